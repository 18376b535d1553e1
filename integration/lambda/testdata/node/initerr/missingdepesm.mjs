import 'switchboard-not-installed-package';
export const handler = async () => 'ok';
