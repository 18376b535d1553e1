throw new Error('configuration missing');
exports.handler = async () => ({ statusCode: 200 });
