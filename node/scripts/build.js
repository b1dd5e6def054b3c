#!/usr/bin/env node
// Build the addon (build/Release/eve.node) offline, with no node-gyp: the
// Node-API headers come from the npm package node-api-headers, and the C
// compiler ($CC, else cc) is invoked directly.  The library's sources
// (../src/*.c) are compiled into the addon with hidden visibility, as
// python/setup.py does, so nothing else needs installing (but the xxhash
// header, Debian's libxxhash-dev).
//
//   node scripts/build.js           build if missing or out of date; skip when
//                                   node-gyp-build finds a prebuilt binary
//   node scripts/build.js --force   rebuild everything
// Environment: CC, EVE_BUILD_JOBS (parallel compilations, default 2),
// EVE_EXTRA_CFLAGS / EVE_EXTRA_LDFLAGS (e.g. sanitizers).
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawn } = require('child_process');

const HERE = path.resolve(__dirname, '..');
const ROOT = path.resolve(HERE, '..');
const force = process.argv.includes('--force');
const OUT = path.join(HERE, 'build', 'Release');
const OBJ = path.join(HERE, 'build', 'obj');
const TARGET = path.join(OUT, 'eve.node');

function fail(msg) {
  console.error('eve-atoms build: ' + msg);
  process.exit(1);
}

if (!force && !fs.existsSync(TARGET)) {
  try {
    require('node-gyp-build').path(HERE); // a prebuild for this platform?
    process.exit(0);
  } catch (_) { /* none: build from source */ }
}

const srcDir = path.join(ROOT, 'src');
if (!fs.existsSync(path.join(ROOT, 'include', 'eve.h')) || !fs.existsSync(srcDir))
  fail('../include/eve.h or ../src/ not found: build from the eve repository (npm install ./node at its top)');
let napiInclude;
try {
  napiInclude = require('node-api-headers').include_dir;
} catch (e) {
  fail('the npm package node-api-headers is missing (npm install in node/ first)');
}

// eve_version.h as CMake's configure_file writes it
const cmake = fs.readFileSync(path.join(ROOT, 'CMakeLists.txt'), 'utf8');
const m = /project\(eve VERSION ([0-9]+)\.([0-9]+)\.([0-9]+)/.exec(cmake);
if (!m) fail('no project(eve VERSION ...) in CMakeLists.txt');
let vtext = fs.readFileSync(path.join(ROOT, 'cmake', 'eve_version.h.in'), 'utf8');
const vars = { PROJECT_VERSION_MAJOR: m[1], PROJECT_VERSION_MINOR: m[2], PROJECT_VERSION_PATCH: m[3],
               PROJECT_VERSION: `${m[1]}.${m[2]}.${m[3]}` };
for (const [k, v] of Object.entries(vars)) vtext = vtext.split(`@${k}@`).join(v);
const GEN = path.join(HERE, 'build', 'include');
fs.mkdirSync(GEN, { recursive: true });
fs.mkdirSync(OUT, { recursive: true });
fs.mkdirSync(OBJ, { recursive: true });
const vpath = path.join(GEN, 'eve_version.h');
if (!fs.existsSync(vpath) || fs.readFileSync(vpath, 'utf8') !== vtext) fs.writeFileSync(vpath, vtext);

const CC = process.env.CC || 'cc';
const extra = (process.env.EVE_EXTRA_CFLAGS || '').split(/\s+/).filter(Boolean);
const base = ['-std=gnu11', '-fPIC', '-fvisibility=hidden', '-O2', '-g'];
if (['x64', 'ia32'].includes(process.arch)) base.push('-mcx16', '-mpopcnt');
const incs = ['-I' + path.join(ROOT, 'include'), '-I' + GEN, '-I' + srcDir];
const libFlags = [...base, '-Wall', '-Wextra', '-Wshadow', '-Wno-unused-parameter', ...incs, ...extra];
const addonFlags = [...base, '-Wall', '-Wextra', '-Wshadow', '-Wstrict-prototypes', '-Wmissing-prototypes',
                    ...incs, '-I' + napiInclude, ...extra];

const jobs = [];
const headers = [path.join(ROOT, 'include', 'eve.h'), vpath];
const newest = (files) => Math.max(...files.map((f) => fs.statSync(f).mtimeMs));
const libHeaderTime = newest([...headers, ...fs.readdirSync(srcDir).filter((f) => f.endsWith('.h')).map((f) => path.join(srcDir, f))]);
for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith('.c')).sort())
  jobs.push({ src: path.join(srcDir, f), obj: path.join(OBJ, 'lib-' + f.replace(/\.c$/, '.o')), flags: libFlags, deps: libHeaderTime });
const addonSrc = path.join(HERE, 'src');
const addonHeaderTime = newest([...headers, ...fs.readdirSync(addonSrc).filter((f) => f.endsWith('.h')).map((f) => path.join(addonSrc, f))]);
for (const f of fs.readdirSync(addonSrc).filter((f) => f.endsWith('.c')).sort())
  jobs.push({ src: path.join(addonSrc, f), obj: path.join(OBJ, 'node-' + f.replace(/\.c$/, '.o')), flags: addonFlags, deps: addonHeaderTime });

function run(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(CC, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', (e) => reject(new Error(`cannot run ${CC}: ${e.message}`)));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${CC} failed (${code}): ${args.join(' ')}`))));
  });
}

function stale(j) {
  if (force || !fs.existsSync(j.obj)) return true;
  const t = fs.statSync(j.obj).mtimeMs;
  return t < fs.statSync(j.src).mtimeMs || t < j.deps;
}

(async () => {
  const todo = jobs.filter(stale);
  const width = Math.max(1, parseInt(process.env.EVE_BUILD_JOBS || '2', 10) || 2);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const j = todo[next++];
      await run([...j.flags, '-c', j.src, '-o', j.obj]);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  const objs = jobs.map((j) => j.obj);
  if (todo.length || !fs.existsSync(TARGET) || fs.statSync(TARGET).mtimeMs < newest(objs)) {
    const ldextra = (process.env.EVE_EXTRA_LDFLAGS || '').split(/\s+/).filter(Boolean);
    const tmp = TARGET + '.tmp';
    await run(['-shared', '-fvisibility=hidden', ...objs, '-o', tmp, '-lpthread', '-lm', ...ldextra]);
    fs.renameSync(tmp, TARGET);
  }
})().catch((e) => fail(e.message));
