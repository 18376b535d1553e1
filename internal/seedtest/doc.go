// Package seedtest proves that people's own AWS WebSocket apps run unmodified
// behind `switchboard serve`. It holds only tests: the handlers printed in
// the seed documents (blog posts; testdata/SEEDS.md says which, and every
// change the printed code needed to be valid at all) run under the real
// switchboard binary with real Node.js, the npm AWS SDKs they import
// (aws-sdk v2 bundled as their deployment bundles it, SDK v3 from the local
// runtime as Lambda provides it), DynamoDB Local, real WebSocket clients
// over wss:// and ws:// on one port, and, for the page one post ships, headless
// Chromium.
//
// Each seed's infrastructure (routes, stage, tables, environment) is
// translated from its CDK code or console steps into testdata/seedNNN/api.yaml;
// the tests create its tables on DynamoDB Local with the Go SDK and build
// TypeScript handlers with esbuild at test time, as CDK does at deployment.
//
// The tests need node, the npm packages that scripts/node-deps installs
// (testdata, testdata/seed002, testdata/seed004, and the repository's
// testdata/aws-sdk-v3, the SDK v3 the functions take from the runtime), Java for DynamoDB Local
// (or SWITCHBOARD_DYNAMODB_ENDPOINT), and Chromium for the page
// (scripts/browser-test-setup; SWITCHBOARD_SKIP_BROWSER=1 skips that test).
// Without node they are skipped; anything else missing fails them with a
// message saying how to install it.
package seedtest
