"""Raw RFC 5322 messages shaped like what real clients and servers send (CRLF line ends)."""

from __future__ import annotations

SIG = "-- "  # RFC 3676 §4.3 signature separator, trailing space included
LAN = "lan.nguyen+spa@gmail.com"
MINH = "minh.tran@example.vn"
SUPPORT = "support@omnispa.example"


def _raw(text: str) -> bytes:
    """Headers and bodies are written with \\n here; the wire uses CRLF (RFC 5322 §2.1)."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def vietnamese_qp(
    *,
    message_id: str = "CAF7u1Qp2vXk3r@mail.gmail.com",
    sender: str = LAN,
    to: str = SUPPORT,
) -> bytes:
    """Gmail: RFC 2047 base64 subject and name, quoted-printable UTF-8 body."""
    return _raw(
        f"""Delivered-To: {to}
Return-Path: <{sender}>
Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])
        by mx.omnispa.example with ESMTPS id a1b2c3
        for <{to}>; Fri, 20 Nov 2026 01:02:03 +0000
MIME-Version: 1.0
From: =?UTF-8?B?Tmd1eeG7hW4gVGjhu4sgTGFu?= <{sender}>
Date: Fri, 20 Nov 2026 08:02:03 +0700
Message-ID: <{message_id}>
Subject: =?utf-8?b?SOG7j2kgduG7gSDEkcahbiBow6BuZyAjMTAyNQ==?=
To: Omni Spa & Clinic <{to}>
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Ch=C3=A0o shop,

Em mu=E1=BB=91n =C4=91=E1=BA=B7t l=E1=BB=8Bch ch=C4=83m s=C3=B3c da m=E1=BA=
=B7t v=C3=A0o th=E1=BB=A9 B=E1=BA=A3y n=C3=A0y l=C3=BAc 10 gi=E1=BB=9D s=C3=
=A1ng.
Cho em h=E1=BB=8Fi gi=C3=A1 g=C3=B3i ch=C4=83m s=C3=B3c da bao nhi=C3=AAu =
=E1=BA=A1?

C=E1=BA=A3m =C6=A1n shop!
Lan
"""
    )


VIETNAMESE_QP_TEXT = (
    "Chào shop,\n\nEm muốn đặt lịch chăm sóc da mặt vào thứ Bảy này lúc 10 giờ sáng.\n"
    "Cho em hỏi giá gói chăm sóc da bao nhiêu ạ?\n\nCảm ơn shop!\nLan"
)


def plain(
    text: str,
    *,
    subject: str = "Question",
    message_id: str = "plain-1@example.vn",
    sender: str = MINH,
    name: str = "Minh Tran",
    in_reply_to: str | None = None,
    references: str | None = None,
    extra_headers: str = "",
) -> bytes:
    """A simple 8bit UTF-8 text mail (Thunderbird style), with optional threading headers."""
    threading = ""
    if in_reply_to:
        threading += f"In-Reply-To: <{in_reply_to}>\n"
    if references:
        threading += f"References: {references}\n"
    return _raw(
        f"""Return-Path: <{sender}>
Message-ID: <{message_id}>
Date: Sat, 21 Nov 2026 09:30:00 +0700
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
From: {name} <{sender}>
To: {SUPPORT}
Subject: {subject}
{threading}{extra_headers}Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

{text}
"""
    )


def html_only(*, message_id: str = "html-only-77@example.vn") -> bytes:
    """A webmail that sends only base64 HTML, with style and script the text must not show."""
    return _raw(
        f"""Return-Path: <{MINH}>
Message-ID: <{message_id}>
Date: Sat, 21 Nov 2026 10:00:00 +0700
From: =?utf-8?B?VHLhuqduIFbEg24gTWluaA==?= <{MINH}>
To: {SUPPORT}
Subject: =?utf-8?Q?G=C3=B3i_tr=E1=BB=8B_li=E1=BB=87u?=
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PGh0bWw+PGhlYWQ+PHN0eWxlPnB7Y29sb3I6cmVkfTwvc3R5bGU+PHNjcmlwdD5hbGVydCgxKTwv
c2NyaXB0PjwvaGVhZD48Ym9keT48ZGl2IGRpcj0ibHRyIj48cD5YaW4gY2jDoG8sPC9wPjxwPlTD
tGkgbXXhu5FuIGjhu49pIHbhu4EgPGI+Z8OzaSB0cuG7iyBsaeG7h3U8L2I+IHRyb25nIDxhIGhy
ZWY9Imh0dHBzOi8vb21uaXNwYS5leGFtcGxlL3V1LWRhaSI+Y2jGsMahbmcgdHLDrG5oIMawdSDE
kcOjaTwvYT4uPGJyPlNwYSBjw7JuIG3hu58gY+G7rWEgdOG7kWkgQ2jhu6cgbmjhuq10IGtow7Ru
Zz88L3A+PHVsPjxsaT5Hw7NpIDE6IGNoxINtIHPDs2MgZGE8L2xpPjxsaT5Hw7NpIDI6IG1hc3Nh
Z2U8L2xpPjwvdWw+PHA+VHLDom4gdHLhu41uZyw8YnI+TWluaDwvcD48L2Rpdj48L2JvZHk+PC9o
dG1sPg==
"""
    )


def gmail_reply(
    *,
    message_id: str = "CAF7u1Qp9reply@mail.gmail.com",
    in_reply_to: str = "omnicrm-0a1b2c@omnispa.example",
    references: tuple[str, ...] = ("CAF7u1Qp2vXk3r@mail.gmail.com",),
) -> bytes:
    """A reply whose history nests a Vietnamese and an English Gmail attribution, plus a sig."""
    chain = " ".join(f"<{ref}>" for ref in (*references, in_reply_to))
    return _raw(
        f"""Return-Path: <{LAN}>
MIME-Version: 1.0
References: {chain}
In-Reply-To: <{in_reply_to}>
From: =?UTF-8?B?Tmd1eeG7hW4gVGjhu4sgTGFu?= <{LAN}>
Date: Sat, 21 Nov 2026 07:45:10 +0700
Message-ID: <{message_id}>
Subject: Re: =?UTF-8?B?SOG7j2kgduG7gSDEkcahbiBow6BuZyAjMTAyNQ==?=
To: Omni Spa & Clinic <{SUPPORT}>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f6"

--000000000000a1b2c3d4e5f6
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

Dạ vâng, em đặt lịch lúc 10 giờ sáng thứ Bảy nhé. Em cảm ơn!

{SIG}
Nguyễn Thị Lan
0903 123 456

Vào Th 6, 20 thg 11, 2026 vào lúc 09:14 Omni Spa & Clinic <
{SUPPORT}> đã viết:

> Chào Lan, cảm ơn bạn đã liên hệ Omni Spa & Clinic!
> Bạn muốn đặt lịch vào lúc nào ạ?
>
> On Fri, Nov 20, 2026 at 8:02 AM Nguyễn Thị Lan <{LAN}> wrote:
>
>> Chào shop,
>> Em muốn đặt lịch chăm sóc da mặt.
>>

--000000000000a1b2c3d4e5f6
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: 8bit

<div dir="ltr">Dạ vâng, em đặt lịch lúc 10 giờ sáng thứ Bảy nhé. Em cảm ơn!</div>
<div class="gmail_quote"><div class="gmail_attr">Vào Th 6, 20 thg 11, 2026 vào lúc 09:14
Omni Spa &amp; Clinic &lt;{SUPPORT}&gt; đã viết:<br></div>
<blockquote class="gmail_quote">Chào Lan, cảm ơn bạn đã liên hệ!</blockquote></div>

--000000000000a1b2c3d4e5f6--
"""
    )


GMAIL_REPLY_TEXT = "Dạ vâng, em đặt lịch lúc 10 giờ sáng thứ Bảy nhé. Em cảm ơn!"


def outlook_reply(*, message_id: str = "SG2PR06MB5311@SG2PR06MB5311.apcprd06.prod") -> bytes:
    """Outlook desktop: a From/Sent/To/Subject header block instead of an attribution line."""
    return _raw(
        f"""Return-Path: <{MINH}>
From: Minh Tran <{MINH}>
To: "support@omnispa.example" <{SUPPORT}>
Subject: RE: Booking
Date: Sat, 21 Nov 2026 03:10:00 +0000
Message-ID: <{message_id}>
In-Reply-To: <omnicrm-77aa@omnispa.example>
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach:
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

Thanks, Saturday at 3pm works for me.

Minh

From: Omni Spa & Clinic <{SUPPORT}>
Sent: Friday, November 20, 2026 5:00 PM
To: Minh Tran <{MINH}>
Subject: Re: Booking

Hi Minh, when would you like to come in?
"""
    )


def outlook_original_message() -> bytes:
    """Older Outlook: the history starts at a '-----Original Message-----' line."""
    return plain(
        "Please cancel my appointment.\n\n-----Original Message-----\n"
        "From: Omni Spa & Clinic\nSent: Friday\n\nYour appointment is confirmed.",
        subject="RE: Appointment",
        message_id="orig-msg-1@example.vn",
    )


def auto_reply() -> bytes:
    """Exchange out-of-office answer: RFC 3834 Auto-Submitted plus a localised subject."""
    return _raw(
        f"""Return-Path: <{MINH}>
From: Minh Tran <{MINH}>
To: {SUPPORT}
Subject: =?utf-8?B?VHLhuqMgbOG7nWkgdOG7sSDEkeG7mW5nOiBI4buPaSB24buBIMSRxqFuIGjDoG5n?=
Date: Sat, 21 Nov 2026 03:11:00 +0000
Message-ID: <oof-4455@example.vn>
In-Reply-To: <omnicrm-77aa@omnispa.example>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Tôi đang nghỉ phép đến ngày 30/11. Tôi sẽ trả lời khi quay lại.
"""
    )


def list_mail() -> bytes:
    """A newsletter: List-Id, List-Unsubscribe and Precedence: bulk (RFC 2919/2369)."""
    return _raw(
        """Return-Path: <bounces+12345@em.shopnews.example>
From: Shop News <news@shopnews.example>
To: support@omnispa.example
Subject: =?utf-8?B?xq91IMSRw6NpIHRow6FuZyAxMSDigJMgZ2nhuqNtIDMwJQ==?=
Date: Sat, 21 Nov 2026 02:00:00 +0000
Message-ID: <news.20261121.1@shopnews.example>
List-Id: Shop News <news.shopnews.example>
List-Unsubscribe: <https://shopnews.example/unsubscribe?u=1>, <mailto:unsub@shopnews.example>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
Precedence: bulk
Feedback-ID: 1:campaign-11:shopnews:esp
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Giảm 30% tất cả sản phẩm trong tháng 11.
"""
    )


def bounce(
    *,
    original_id: str = "omnicrm-99ff@omnispa.example",
    recipient: str = "nobody@example.vn",
    action: str = "failed",
) -> bytes:
    """A Postfix DSN (RFC 3464 inside RFC 6522 multipart/report) with the null sender."""
    return _raw(
        f"""Return-Path: <>
Date: Sat, 21 Nov 2026 03:20:00 +0000 (UTC)
From: MAILER-DAEMON@mx.omnispa.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: support@omnispa.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
        boundary="B1C2D3E4.1763695200/mx.omnispa.example"
Message-Id: <20261121032000.B1C2D3E4@mx.omnispa.example>

This is a MIME-encapsulated message.

--B1C2D3E4.1763695200/mx.omnispa.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{recipient}>: host mx.example.vn said: 550 5.1.1 User unknown

--B1C2D3E4.1763695200/mx.omnispa.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.omnispa.example
Arrival-Date: Sat, 21 Nov 2026 03:19:58 +0000 (UTC)

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown

--B1C2D3E4.1763695200/mx.omnispa.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Omni Spa & Clinic <support@omnispa.example>
To: {recipient}
Subject: Re: Booking
Message-ID: <{original_id}>

--B1C2D3E4.1763695200/mx.omnispa.example--
"""
    )


def with_attachment() -> bytes:
    """Apple Mail: an RFC 2231 UTF-8 filename plus an inline image, base64 parts."""
    return _raw(
        f"""Return-Path: <{LAN}>
From: =?utf-8?B?Tmd1eeG7hW4gVGjhu4sgTGFu?= <{LAN}>
Content-Type: multipart/mixed; boundary="Apple-Mail=_5F0D1A2B"
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Subject: =?utf-8?Q?B=C3=A1o_gi=C3=A1?=
Date: Sat, 21 Nov 2026 11:00:00 +0700
Message-Id: <5F0D1A2B-AAAA-4BBB-8CCC-123456789ABC@gmail.com>
To: {SUPPORT}

--Apple-Mail=_5F0D1A2B
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain; charset=utf-8

G=E1=BB=ADi shop b=C3=A1o gi=C3=A1 v=C3=A0 =E1=BA=A3nh da =E1=BA=A1.

--Apple-Mail=_5F0D1A2B
Content-Disposition: attachment;
\tfilename*=utf-8''B%C3%A1o%20gi%C3%A1%20th%C3%A1ng%2011.pdf
Content-Type: application/pdf;
\tname*=utf-8''B%C3%A1o%20gi%C3%A1%20th%C3%A1ng%2011.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKJSVFT0YK

--Apple-Mail=_5F0D1A2B
Content-Disposition: inline; filename=da-mat.jpg
Content-Type: image/jpeg; name=da-mat.jpg
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////
/9k=

--Apple-Mail=_5F0D1A2B--
"""
    )


def decomposed_vietnamese() -> bytes:
    """macOS can send NFD text: 'Xin chào' with a combining grave accent."""
    return plain("Xin cha\u0300o shop", subject="Cha\u0300o", message_id="nfd-1@example.vn")


def no_message_id() -> bytes:
    """Some scripts send without Message-ID; redelivery must still dedupe."""
    return _raw(
        f"""From: {MINH}
To: {SUPPORT}
Subject: hello
Date: Sat, 21 Nov 2026 12:00:00 +0700

hello there
"""
    )


def from_ourselves() -> bytes:
    """Our own reply coming back (a Bcc, or the IMAP folder holding sent mail)."""
    return plain(
        "Hi, thanks!",
        sender=SUPPORT,
        name="Omni Spa & Clinic",
        message_id="omnicrm-1234@omnispa.example",
    )
