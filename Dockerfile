# newsbot: a slim, non-root image whose entry point is the console script.
#   docker build -t newsbot .
#   docker run --rm -e DISCORD_TOKEN -v "$PWD/newsbot.yaml:/config/newsbot.yaml:ro" \
#       -v newsbot-data:/data newsbot run
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY templates templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 newsbot \
    && mkdir /data /config && chown newsbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER newsbot
WORKDIR /data
ENV PYTHONUNBUFFERED=1 \
    NEWSBOT_CONFIG=/config/newsbot.yaml \
    NEWSBOT_DB=/data/newsbot.db
VOLUME ["/data"]
# metrics: {port: 9108, host: 0.0.0.0} in the config serves /metrics, /healthz and /readyz here.
EXPOSE 9108
ENTRYPOINT ["newsbot"]
CMD ["run"]
