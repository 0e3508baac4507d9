#!/usr/bin/env bash
# The seed's CronJob (docs: ../shared/reference/seed-cronjob-solution.md), run once per namespace,
# as a platform team would to cover several namespaces with it. Each iteration is what one
# CronJob pod does: the real aws CLI asks ECR for a password, real kubectl deletes the secret,
# creates it again and patches the default ServiceAccount (replacing its imagePullSecrets list).
#
#   seed-cronjob.sh NAMESPACE...
#   environment: KUBECONFIG, ECR_ENDPOINT (the stand-in), AWS_REGION, AWS_ACCOUNT, AWS_ACCESS_KEY_ID,
#                AWS_SECRET_ACCESS_KEY; aws and kubectl on PATH
set -euo pipefail
for ns in "$@"; do
  token=$(aws ecr get-login-password --region "$AWS_REGION" --endpoint-url "$ECR_ENDPOINT")
  kubectl -n "$ns" delete secret aws-registry --ignore-not-found
  kubectl -n "$ns" create secret docker-registry aws-registry \
    --docker-server="https://${AWS_ACCOUNT}.dkr.ecr.${AWS_REGION}.amazonaws.com" \
    --docker-username=AWS --docker-password="$token" --docker-email=ops@example.com
  kubectl -n "$ns" patch serviceaccount default -p '{"imagePullSecrets":[{"name":"aws-registry"}]}'
done
