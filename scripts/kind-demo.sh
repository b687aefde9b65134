#!/usr/bin/env bash
# The olapsink demo on a local kind cluster. Needs Docker, kind, kubectl and helm on the PATH.
#
#   scripts/kind-demo.sh          create the cluster, build + load the image, install the chart,
#                                 start Kafka and StarRocks, apply the sample sink, wait for Ready,
#                                 produce a few records and show them in the table
#   scripts/kind-demo.sh down     delete the cluster
#
# Environment: CLUSTER (olapsink), IMAGE (olapsink:dev), KAFKA_IMAGE, STARROCKS_IMAGE, TIMEOUT (10m).
# CI cannot run this: there is no Docker engine there (see docs/install.md).
set -euo pipefail

CLUSTER="${CLUSTER:-olapsink}"
IMAGE="${IMAGE:-olapsink:dev}"
KAFKA_IMAGE="${KAFKA_IMAGE:-apache/kafka:3.9.0}"
# StarRocks publishes the all-in-one image (FE + BE in one container) for quick starts; pin a tag you trust.
STARROCKS_IMAGE="${STARROCKS_IMAGE:-starrocks/allin1-ubuntu:latest}"
TIMEOUT="${TIMEOUT:-10m}"
OPERATOR_NS=olapsink-system
DEMO_NS=olapsink-demo
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'kind-demo: %s\n' "$*" >&2; exit 1; }

require_tools() {
  local tool
  for tool in docker kind kubectl helm; do
    command -v "$tool" >/dev/null || die "$tool is not on the PATH; install it first (see docs/install.md)"
  done
  docker info >/dev/null 2>&1 || die "the Docker engine is not running"
}

create_cluster() {
  if kind get clusters | grep -qx "$CLUSTER"; then
    log "cluster $CLUSTER exists; reusing it"
  else
    log "creating kind cluster $CLUSTER"
    kind create cluster --name "$CLUSTER" --config "$REPO/kind-config.yaml" --wait 2m
  fi
  kubectl config use-context "kind-$CLUSTER" >/dev/null
}

build_and_load_image() {
  log "building $IMAGE and loading it into the cluster"
  docker build -t "$IMAGE" "$REPO"
  kind load docker-image "$IMAGE" --name "$CLUSTER"
}

install_chart() {
  log "installing the olapsink chart"
  # The chart's crds/ are installed on first install only; apply them too so reruns pick up changes.
  kubectl apply --server-side -f "$REPO/helm/olapsink/crds/"
  helm upgrade --install olapsink "$REPO/helm/olapsink" \
    --namespace "$OPERATOR_NS" --create-namespace \
    --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
    --wait --timeout "$TIMEOUT"
}

start_backends() {
  log "starting Kafka and StarRocks in namespace $DEMO_NS"
  kubectl create namespace "$DEMO_NS" --dry-run=client -o yaml | kubectl apply -f -
  kubectl -n "$DEMO_NS" apply -f - <<YAML
apiVersion: v1
kind: Service
metadata: {name: kafka}
spec:
  selector: {app: kafka}
  ports: [{name: kafka, port: 9092}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: kafka}
spec:
  selector: {matchLabels: {app: kafka}}
  template:
    metadata: {labels: {app: kafka}}
    spec:
      # Service links would inject KAFKA_PORT=tcp://..., which the image reads as broker config.
      enableServiceLinks: false
      containers:
        - name: kafka
          image: $KAFKA_IMAGE
          ports: [{containerPort: 9092}]
          env:
            - {name: KAFKA_NODE_ID, value: "1"}
            - {name: KAFKA_PROCESS_ROLES, value: "broker,controller"}
            - {name: KAFKA_LISTENERS, value: "PLAINTEXT://:9092,CONTROLLER://:9093"}
            - {name: KAFKA_ADVERTISED_LISTENERS, value: "PLAINTEXT://kafka.$DEMO_NS.svc:9092"}
            - {name: KAFKA_CONTROLLER_LISTENER_NAMES, value: CONTROLLER}
            - {name: KAFKA_LISTENER_SECURITY_PROTOCOL_MAP, value: "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"}
            - {name: KAFKA_CONTROLLER_QUORUM_VOTERS, value: "1@localhost:9093"}
            - {name: KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, value: "1"}
            - {name: KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR, value: "1"}
            - {name: KAFKA_TRANSACTION_STATE_LOG_MIN_ISR, value: "1"}
            - {name: KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS, value: "0"}
            - {name: KAFKA_NUM_PARTITIONS, value: "3"}
---
apiVersion: v1
kind: Service
metadata: {name: starrocks}
spec:
  selector: {app: starrocks}
  ports: [{name: http, port: 8030}, {name: query, port: 9030}, {name: be-http, port: 8040}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: starrocks}
spec:
  selector: {matchLabels: {app: starrocks}}
  template:
    metadata: {labels: {app: starrocks}}
    spec:
      containers:
        - name: starrocks
          image: $STARROCKS_IMAGE
          ports: [{containerPort: 8030}, {containerPort: 9030}, {containerPort: 8040}]
          readinessProbe:
            exec: {command: [sh, -c, "mysql -h127.0.0.1 -P9030 -uroot -e 'SHOW BACKENDS' | grep -q true"]}
            periodSeconds: 10
            failureThreshold: 60
YAML
  kubectl -n "$DEMO_NS" rollout status deployment/kafka --timeout "$TIMEOUT"
  kubectl -n "$DEMO_NS" rollout status deployment/starrocks --timeout "$TIMEOUT"
}

starrocks_sql() {
  kubectl -n "$DEMO_NS" exec deployment/starrocks -- mysql -h127.0.0.1 -P9030 -uroot -e "$1"
}

prepare_data() {
  log "creating the topic, the table and the password Secret"
  kubectl -n "$DEMO_NS" exec deployment/kafka -- /opt/kafka/bin/kafka-topics.sh \
    --bootstrap-server localhost:9092 --create --if-not-exists --topic orders --partitions 3
  starrocks_sql "CREATE DATABASE IF NOT EXISTS demo;
    CREATE TABLE IF NOT EXISTS demo.orders (id BIGINT, city VARCHAR(64), amount DECIMAL(10, 2))
    DUPLICATE KEY(id) DISTRIBUTED BY HASH(id) BUCKETS 3 PROPERTIES ('replication_num' = '1');"
  # The all-in-one image's root user has an empty password; the sink still reads it from a Secret.
  kubectl -n "$DEMO_NS" create secret generic starrocks-cred --from-literal=password= \
    --dry-run=client -o yaml | kubectl apply -f -
}

apply_sink() {
  log "applying the sample StarRocksSink and waiting for Ready"
  kubectl apply -f "$REPO/helm/olapsink/examples/starrocks-sink.yaml"
  kubectl -n "$DEMO_NS" wait --for=condition=Ready starrockssink/orders --timeout "$TIMEOUT"
  kubectl get olapsinks -A
}

produce_and_show() {
  log "producing 3 records and reading them back"
  printf '%s\n' '{"id":1,"city":"New York","amount":12.50}' '{"id":2,"city":"Paris","amount":7.25}' \
    '{"id":3,"city":"Tokyo","amount":3.00}' |
    kubectl -n "$DEMO_NS" exec -i deployment/kafka -- /opt/kafka/bin/kafka-console-producer.sh \
      --bootstrap-server localhost:9092 --topic orders
  # StarRocks' flush interval defaults to 1 s; allow a few for the first load.
  local attempt
  for attempt in $(seq 1 30); do
    if starrocks_sql "SELECT count(*) FROM demo.orders" | grep -qx 3; then
      starrocks_sql "SELECT * FROM demo.orders ORDER BY id"
      log "done: the sink loaded every record (attempt $attempt)"
      return 0
    fi
    sleep 2
  done
  die "the rows did not arrive; look at: kubectl -n $DEMO_NS logs deployment/orders-starrocks-worker"
}

main() {
  if [[ "${1:-}" == "down" ]]; then
    kind delete cluster --name "$CLUSTER"
    return 0
  fi
  require_tools
  create_cluster
  build_and_load_image
  install_chart
  start_backends
  prepare_data
  apply_sink
  produce_and_show
}

main "$@"
