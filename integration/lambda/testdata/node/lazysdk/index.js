// Requires an SDK package it does not bundle inside the handler, lazily:
// its installation happens during the invocation.
exports.handler = async () => require('@aws-sdk/client-switchboard-fake').hello;
