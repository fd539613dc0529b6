// A tap plugin that loads the TypeScript tests with tsx (esbuild) instead of tap's default
// @tapjs/typescript (ts-node). Both only transpile (`npm test` type-checks with tsc first),
// but a test process starts in well under a second with tsx and several with ts-node: with
// ~190 test files, and the processes they spawn, that is minutes of CI. @tapjs/tsx does the
// same, but pins an older @tapjs/core than this tap's. import.mjs also notes an uncaught error
// (a top-level start that failed) for .ci/summarize.mjs.
exports.importLoader = 'tap-tsx-local/import.mjs';
exports.preload = true;
exports.testFileExtensions = ['ts'];
exports.plugin = () => ({});
