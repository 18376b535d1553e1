// Callback-style and legacy context handlers (integration/lambda tests).
'use strict';

exports.handler = function (event, context, callback) {
  switch (event.op) {
    case 'wait': {
      // The answer is serialised when the event loop is empty, after the
      // timer: it shows timer: true, unless the handler turned
      // callbackWaitsForEmptyEventLoop off.
      if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
      const result = { timer: false };
      setTimeout(() => (result.timer = true), 50);
      callback(null, result);
      return;
    }
    case 'error':
      callback(new Error('callback failed'));
      return;
    case 'errorString':
      callback('just a string');
      return;
    case 'twice':
      callback(null, 'first');
      callback(null, 'second');
      return;
    case 'succeed':
      context.succeed({ via: 'succeed' });
      return;
    case 'fail':
      context.fail(new Error('failed via context.fail'));
      return;
    case 'done':
      context.done(null, 'via done');
      return;
    case 'syncThrow':
      throw new RangeError('thrown synchronously');
    case 'noAnswer':
      // Neither a promise nor a callback: Lambda answers null once the
      // event loop is empty.
      return 42;
    default:
      callback(null, { unknown: event.op });
  }
};
