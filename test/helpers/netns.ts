// Tests use the project's namespace harness (src/io/netns.ts) unchanged.
export * from '../../src/io/netns.js';
