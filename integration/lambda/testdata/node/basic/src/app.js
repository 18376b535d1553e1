// A handler in a subdirectory, exported under a nested name.
exports.nested = { deep: { hello: async () => 'deep hello' } };
exports.notAFunction = 42;
