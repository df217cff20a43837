// node-config picks config/test.json from NODE_ENV; set it before any test loads config.
process.env.NODE_ENV = 'test';
