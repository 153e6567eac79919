#!/bin/sh
# The gateway function's handler: the Lambda Web Adapter layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap)
# runs this script, waits for GET /healthz on $AWS_LWA_PORT, then forwards each invocation to it as
# HTTP. uvicorn serves the ASGI app (claude_proxy.web.app:app) on 127.0.0.1 only; the adapter is the
# only client. boto3 comes from the Lambda runtime ($LAMBDA_RUNTIME_DIR), as for the invoke handler.
# See docs/https-endpoint.md.
set -eu
cd "${LAMBDA_TASK_ROOT:-$(dirname "$0")}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}:${LAMBDA_RUNTIME_DIR:-/var/runtime}"
exec "${CLAUDE_PROXY_PYTHON:-python3}" -m uvicorn claude_proxy.web.app:app \
    --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" \
    --lifespan on --no-access-log --log-level warning --timeout-keep-alive 75
