Promise.reject(new Error('rejected at init'));
exports.handler = async () => 'ok';
