exports.other = async () => 'other';
