throw new TypeError('bad config at import');
