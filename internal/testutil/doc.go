// Package testutil holds the helpers the test suites share: Eventually (poll
// a condition instead of sleeping and hoping), DiscardLogger, GoBinary (a
// program of the module, linked once for the whole suite), and the Require
// checks for the tools some tests need (node and npm packages, DynamoDB
// Local, Chromium).
//
// The Require helpers fail, with a hint saying how to install what is
// missing, when the thing is one the suite installs (scripts/test,
// scripts/node-deps, scripts/browser-test-setup): a silent skip would hide
// breakage in CI. They skip only when the platform lacks it (no node at all).
package testutil
