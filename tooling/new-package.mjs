// Writes the boilerplate of a package: package.json (exports with a source condition), tsup, vitest and tsconfig.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
const [dir, name, description, extra = '{}'] = process.argv.slice(2);
const more = JSON.parse(extra);
const entries = more.entries ?? { '.': 'index' };
const exportsMap = {};
for (const [sub, file] of Object.entries(entries)) {
  exportsMap[sub] = {
    source: `./src/${file}.ts`,
    import: { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
    require: { types: `./dist/${file}.d.cts`, default: `./dist/${file}.cjs` },
  };
}
exportsMap['./package.json'] = './package.json';
const pkg = {
  name,
  version: '0.1.0',
  description,
  license: 'MIT',
  engines: { node: '>=20.19' },
  type: 'module',
  sideEffects: false,
  ...(more.private ? { private: true } : {}),
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.ts',
  exports: exportsMap,
  files: ['dist', 'src', 'README.md', ...(more.files ?? [])],
  ...(more.bin ? { bin: more.bin } : {}),
  scripts: {
    build: 'tsup',
    typecheck: 'tsc -p tsconfig.json',
    lint: 'eslint --no-error-on-unmatched-pattern src tests',
    test: 'vitest run',
    'check:package': more.private ? 'echo private package: not published' : 'publint --strict && attw --pack . --profile node16',
    ...(more.scripts ?? {}),
  },
  ...(more.dependencies ? { dependencies: more.dependencies } : {}),
  ...(more.peerDependencies ? { peerDependencies: more.peerDependencies } : {}),
  ...(more.devDependencies ? { devDependencies: more.devDependencies } : {}),
  ...(more.private ? {} : { publishConfig: { access: 'public' } }),
};
mkdirSync(`${dir}/src`, { recursive: true });
mkdirSync(`${dir}/tests`, { recursive: true });
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + '\n');
const entryFiles = Object.values(entries).map((f) => `'src/${f}.ts'`).join(', ');
writeFileSync(`${dir}/tsup.config.ts`, `import { defineConfig } from 'tsup';\nimport { preset } from '../../tooling/tsup.preset.js';\nexport default defineConfig(preset({ entry: [${entryFiles}] }));\n`);
writeFileSync(`${dir}/vitest.config.ts`, `import { defineConfig } from 'vitest/config';\nimport { vitestConfig } from '../../tooling/vitest.shared.js';\nexport default defineConfig(vitestConfig());\n`);
writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src', 'tests', '*.ts'] }, null, 2) + '\n');
if (!existsSync(`${dir}/README.md`)) writeFileSync(`${dir}/README.md`, `# ${name}\n\n${description}\n`);
