#!/usr/bin/env bash
# Train (cached) and run a real Rasa 3.6 NLU server for the demo shop on 127.0.0.1.
#   scripts/rasa-serve.sh [PORT]          export, train if needed, then exec `rasa run` (default 5005)
#   scripts/rasa-serve.sh --train-only    export and train if needed; print the model's path
# The model is cached under $RASA_MODELS by a hash of the exported project (and the Rasa
# version), so a re-run with unchanged training data skips the minutes of DIET training.
# Env: HAAT_SHOP_DIR (default config), RASA_MODELS (default .rasa-models), RASA_VENV (.rasa-venv).
# Then: HAAT_NLU_BACKEND=rasa HAAT_RASA_URL=http://127.0.0.1:PORT .venv/bin/haat serve
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "rasa-serve: $*" >&2; exit 1; }

TRAIN_ONLY=0
PORT=${RASA_PORT:-5005}
for arg in "$@"; do
    case "$arg" in
        --train-only) TRAIN_ONLY=1 ;;
        ''|*[!0-9]*) fail "usage: $0 [--train-only] [PORT]" ;;
        *) PORT=$arg ;;
    esac
done

VENV=${RASA_VENV:-.rasa-venv}
MODELS=${RASA_MODELS:-.rasa-models}
SHOP=${HAAT_SHOP_DIR:-config}
PROJECT="$MODELS/project"

[[ -x .venv/bin/haat ]] || fail ".venv/bin/haat missing: run 'make install' first"
RASA_VENV="$VENV" bash scripts/rasa-setup.sh
RASA="$VENV/bin/rasa"

export RASA_TELEMETRY_ENABLED=false      # no calls home (there is no network here anyway)
export TF_CPP_MIN_LOG_LEVEL=2            # TensorFlow's start-up chatter
export SQLALCHEMY_SILENCE_UBER_WARNING=1

mkdir -p "$MODELS"
export RASA_CACHE_DIRECTORY="$(cd "$MODELS" && pwd)/.cache"   # not ./.rasa/cache in the repo
# one export and training at a time (scripts/test.sh trains in the background while the
# real-Rasa test fixture may ask for the same model): the lock ends when this script does
exec 9>"$MODELS/.train.lock"
flock 9
rm -rf "$PROJECT"
.venv/bin/haat rasa export "$PROJECT" --shop "$SHOP" >/dev/null \
    || fail "haat rasa export failed"

HASH=$( { "$VENV/bin/python" -c 'import importlib.metadata as m; print("rasa", m.version("rasa"))' 
          cat "$PROJECT/config.yml" "$PROJECT/domain.yml" "$PROJECT/data/nlu.yml"; } \
        | sha256sum | cut -c1-16)
NAME="nlu-$HASH"
MODEL="$MODELS/$NAME.tar.gz"

if [[ ! -f "$MODEL" ]]; then
    echo "rasa-serve: training $NAME (cached afterwards) ..." >&2
    TMP="tmp-$NAME-$$"
    LOG="$MODELS/train.log"
    started=$(date +%s)
    if ! "$RASA" train nlu --config "$PROJECT/config.yml" --nlu "$PROJECT/data/nlu.yml" \
            --domain "$PROJECT/domain.yml" --out "$MODELS" --fixed-model-name "$TMP" \
            >"$LOG" 2>&1; then
        tail -n 40 "$LOG" >&2
        rm -f "$MODELS/$TMP.tar.gz"
        fail "rasa train nlu failed (full log: $LOG)"
    fi
    mv -f "$MODELS/$TMP.tar.gz" "$MODEL"   # atomic: a cached model is always complete
    echo "rasa-serve: trained in $(( $(date +%s) - started ))s" >&2
fi

if (( TRAIN_ONLY )); then
    echo "$MODEL"
    exit 0
fi

echo "rasa-serve: serving $MODEL on http://127.0.0.1:$PORT" >&2
exec 9>&-   # the server does not hold the training lock
exec "$RASA" run --enable-api --model "$MODEL" --interface 127.0.0.1 --port "$PORT"
