# One image for every omnicrm process (web, worker, migrate); the command picks the role.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# DejaVu has the Vietnamese glyphs the transcript PDFs need (OMNICRM_PDF_FONT overrides it).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY omnicrm ./omnicrm
COPY channels ./channels
COPY conversations ./conversations
COPY crm_core ./crm_core
COPY nlu ./nlu
COPY handoff ./handoff
RUN pip install ".[postgres,redis]" && useradd --create-home omnicrm
USER omnicrm

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["omnicrm", "serve", "--host", "0.0.0.0", "--port", "8000"]
