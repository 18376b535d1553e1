console.log('exiting at start');
process.exit(3);
