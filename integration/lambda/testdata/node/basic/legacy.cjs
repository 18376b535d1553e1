// A CommonJS module by its extension.
module.exports.handler = async () => ({ kind: 'cjs', require: typeof require });
