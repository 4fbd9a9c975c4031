#!/usr/bin/env bash
# The README's two commands as a user runs them, with the worst leftovers in between: the demo
# (its stack left up), then namespaces left Terminating by an operator that is gone (two test
# namespaces and the demo's own, each held by a CacheTier's finalizer), then `npm test`, which
# must pass on that machine (issue 29). Prints how long each step took. About 18 min warm.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_DIR"
start=$SECONDS
npm run demo -- --once >"${TMPDIR:-/tmp}/readme-order-demo.log" 2>&1 || die "the demo failed"
log "demo in $((SECONDS - start)) s"
eval "$(bash hack/cluster.sh env)"
for i in 1 2; do
  ns=e2e-leftover-$i
  kubectl create namespace "$ns" >/dev/null
  kubectl label namespace "$ns" homeops.io/test=e2e-leftover >/dev/null
  printf 'apiVersion: homeops.io/v1alpha1\nkind: CacheTier\nmetadata: {name: stuck, finalizers: [homeops.io/finalizer]}\nspec: {}\n' |
    kubectl apply -n "$ns" -f - >/dev/null
  kubectl delete namespace "$ns" --wait=false >/dev/null
done
kubectl patch ctier cache-full -n homeops-demo --type=merge -p '{"metadata":{"finalizers":["homeops.io/finalizer"]}}' >/dev/null
kubectl delete namespace homeops-demo --wait=false >/dev/null
sleep 5
kubectl get namespaces | grep -E 'leftover|homeops-demo' >&2
start=$SECONDS
npm test; rc=$?
log "npm test after the demo and the leftovers: exit $rc in $((SECONDS - start)) s"
exit $rc
