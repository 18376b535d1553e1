require('switchboard-not-installed-package');
exports.handler = async () => 'ok';
