# Build entry points. The tests are scripts/test; deployment is docs/deploy.md.

.PHONY: lambda
# The Lambda artifact: dist/lambda/{arm64,amd64}/bootstrap and
# dist/lambda/bootstrap-{arm64,amd64}.zip (scripts/build-lambda).
lambda:
	scripts/build-lambda
