# Dhamen — web (gunicorn) and worker (rq) image.
# Production runs it through compose.yaml (README, « Production ») :
#   docker compose pull && docker compose up -d --wait
# By hand:
#   docker build -t dhamen .
#   docker run --env-file prod.env dhamen flask --app app db upgrade          # once, before the workers
#   docker run --env-file prod.env -p 8000:8000 dhamen                       # web
#   docker run --env-file prod.env dhamen sh -c 'exec rq worker -w dhamen.core.jobs.AppWorker --with-scheduler --url "$REDIS_URL" events reconciliation imports'   # worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# WeasyPrint's system libraries (Pango, HarfBuzz) and fonts for the PDF bordereaux and receipts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
      libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system dhamen && useradd --system --gid dhamen --home-dir /app --shell /usr/sbin/nologin dhamen
WORKDIR /app

# The app reads templates/, static/ and migrations/ beside the package: install it in place.
COPY pyproject.toml app.py wsgi.py ./
COPY dhamen ./dhamen
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
RUN pip install -e . && chown -R root:root /app && chmod -R a+rX /app

USER dhamen
ENV ENVIRONMENT=production DHAMEN_INSTANCE_PATH=/tmp/dhamen
EXPOSE 8000
CMD ["gunicorn", "wsgi:app", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", "--timeout", "30", "--access-logfile", "-"]
