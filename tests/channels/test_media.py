"""The media fetcher refuses every URL outside the channel's hosts, before any request."""

from __future__ import annotations

import httpx
import pytest

from channels.media import MediaFetcher, MediaRefused, MediaSource

TWILIO = MediaSource(
    hosts=("api.twilio.com", ".twiliocdn.com"),
    auth=("AC123", "token"),
    auth_hosts=("api.twilio.com",),
)
PUBLIC = {"api.twilio.com": ["54.172.60.1"], "media.twiliocdn.com": ["13.224.1.2"]}


class Recorder:
    """An httpx transport that answers from a table and records what was asked."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.routes.get(str(request.url), httpx.Response(404))


def fetcher(
    recorder: Recorder, resolved: dict[str, list[str]], max_bytes: int = 1000
) -> MediaFetcher:
    async def resolve(host: str) -> list[str]:
        return resolved.get(host, ["93.184.216.34"])

    return MediaFetcher(
        max_bytes=max_bytes, resolver=resolve, transport=httpx.MockTransport(recorder.handle)
    )


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("http://127.0.0.1/x", {}),
        ("https://attacker.test/x", {}),
        ("https://169.254.169.254/latest/meta-data", {}),
        ("https://api.twilio.com.attacker.test/x", {}),
        ("http://api.twilio.com/x", PUBLIC),  # not https
        ("https://api.twilio.com/x", {"api.twilio.com": ["10.0.0.5"]}),  # rebinding to private
        ("https://media.twiliocdn.com/x", {"media.twiliocdn.com": ["::ffff:127.0.0.1"]}),
    ],
)
async def test_refused_before_any_request(url: str, resolved: dict[str, list[str]]) -> None:
    recorder = Recorder({})
    media = fetcher(recorder, resolved)
    with pytest.raises(MediaRefused):
        await media.fetch(url, TWILIO)
    assert recorder.requests == []
    await media.close()


async def test_redirect_to_a_cdn_drops_the_credentials() -> None:
    start = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1"
    cdn = "https://media.twiliocdn.com/AC123/abc"
    recorder = Recorder(
        {
            start: httpx.Response(307, headers={"location": cdn}),
            cdn: httpx.Response(200, content=b"jpegbytes", headers={"content-type": "image/jpeg"}),
        }
    )
    media = fetcher(recorder, PUBLIC)
    fetched = await media.fetch(start, TWILIO)
    assert fetched.content == b"jpegbytes" and fetched.content_type == "image/jpeg"
    assert "authorization" in recorder.requests[0].headers
    assert "authorization" not in recorder.requests[1].headers
    await media.close()


async def test_redirect_to_a_private_address_is_refused() -> None:
    start = "https://api.twilio.com/media/1"
    recorder = Recorder(
        {start: httpx.Response(302, headers={"location": "http://169.254.169.254/latest"})}
    )
    media = fetcher(recorder, PUBLIC)
    with pytest.raises(MediaRefused):
        await media.fetch(start, TWILIO)
    assert len(recorder.requests) == 1
    await media.close()


async def test_size_limit() -> None:
    url = "https://api.twilio.com/media/big"
    recorder = Recorder({url: httpx.Response(200, content=b"x" * 5000)})
    media = fetcher(recorder, PUBLIC, max_bytes=1000)
    with pytest.raises(MediaRefused) as refused:
        await media.fetch(url, TWILIO)
    assert refused.value.status == 413
    await media.close()
