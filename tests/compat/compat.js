#!/usr/bin/env node
/*
 * compat.js -- runs a full Milvus RESTful API v2 session against a server
 * with the official Node SDK client (`HttpClient` of @zilliz/milvus2-sdk-node,
 * the exact version pinned in package.json), with no workaround in the
 * client: whatever the SDK sends, the server must accept, and whatever the
 * server answers must mean to the SDK what it means with Milvus.
 *
 * Usage:  node compat.js http://127.0.0.1:PORT     (or VS_URL=... node compat.js)
 *         VS_COMPAT_TRACE=1 also logs every request and response to stderr
 *         (through a pass-through fetch; nothing is altered).
 *
 * The session runs twice, once per way the SDK builds its URLs
 * (MILVUS_REST_V2.md section 11): {endpoint: URL} calls URL/v2/vectordb/...,
 * {baseURL: URL} calls URL/vectordb/... verbatim.  Each step prints
 * "ok - <step>" or "not ok - <step>: <reason>"; the last line is
 * "N passed, N failed" and the exit status is 1 if any step failed.
 *
 * What is asserted: the response fields that the SDK's own test suite
 * asserts (section 11), plus real content -- rows come back with the values
 * inserted, a stored vector finds itself first, filters select exactly the
 * rows a JavaScript re-implementation selects, exact (FLAT) searches and
 * hybrid rerank scores match a brute-force oracle computed here.
 *
 * Where the spec allows two shapes (JSON field as text or as a value, Array
 * field as the protobuf wrapper or a plain array, the search pk key named
 * after the field or "id"), both are accepted; everything else is strict.
 */
'use strict';

const assert = require('node:assert/strict');
const { HttpClient, HttpError } = require('@zilliz/milvus2-sdk-node');

const BASE = (process.argv[2] || process.env.VS_URL || '').replace(/\/+$/, '');
const TRACE = !!process.env.VS_COMPAT_TRACE;
const DEADLINE_MS = Number(process.env.VS_COMPAT_DEADLINE_MS || 240000);

// ---------------------------------------------------------------- harness

const tally = { passed: 0, failed: 0 };
const broken = new Set();

function oneLine(text, max = 600) {
  const s = String(text).replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max) + '...' : s;
}

function errorText(e) {
  if (e instanceof HttpError) return `HttpError ${e.status} ${e.statusText} ${e.url}`;
  if (e && e.name === 'AssertionError') return e.message;
  return e && e.stack ? e.stack.split('\n').slice(0, 2).join(' | ') : String(e);
}

/* Runs one step.  opts.needs: keys that must not be broken; opts.gives: a
 * key that becomes broken when this step fails (later steps needing it are
 * reported as failed without running, so one failure is not a cascade of
 * confusing ones). */
async function step(name, fn, opts = {}) {
  const missing = (opts.needs || []).filter((k) => broken.has(k));
  if (missing.length) {
    tally.failed++;
    if (opts.gives) broken.add(opts.gives);
    console.log(`not ok - ${name}: not run, an earlier step failed (${missing.join(', ')})`);
    return;
  }
  try {
    await fn();
    tally.passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    tally.failed++;
    if (opts.gives) broken.add(opts.gives);
    console.log(`not ok - ${name}: ${oneLine(errorText(e))}`);
  }
}

function show(res) {
  return oneLine(JSON.stringify(res), 400);
}

/* Asserts a successful envelope and returns res.data. */
function ok(res, what = 'request') {
  assert.ok(res && typeof res === 'object', `${what}: no JSON object in the response`);
  assert.equal(res.code, 0, `${what}: expected code 0, got ${show(res)}`);
  return res.data;
}

function fails(res, code, what = 'request') {
  assert.ok(res && typeof res === 'object', `${what}: no JSON object in the response`);
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(res.code), `${what}: expected code ${codes.join(' or ')}, got ${show(res)}`);
  assert.equal(typeof res.message, 'string', `${what}: error without a message: ${show(res)}`);
  assert.ok(!('data' in res), `${what}: an error envelope has no data key: ${show(res)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitLoaded(client, collectionName, partitionNames) {
  const deadline = Date.now() + 20000;
  let last;
  while (Date.now() < deadline) {
    const req = { collectionName };
    if (partitionNames) req.partitionNames = partitionNames;
    last = await client.getCollectionLoadState(req);
    const d = ok(last, 'get_load_state');
    if (d.loadState === 'LoadStateLoaded') return d;
    await sleep(100);
  }
  assert.fail(`${collectionName} not loaded after 20 s: ${show(last)}`);
}

// ------------------------------------------------------------ data and oracles

function rng(seed) {
  let s = (seed * 2654435761) >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/* A deterministic vector of multiples of 1/1024 in [-1, 1] (exact in float32). */
function vec(seed, dim) {
  const r = rng(seed + 1);
  for (let i = 0; i < 3; i++) r();
  const v = Array.from({ length: dim }, () => Math.round((r() * 2 - 1) * 1024) / 1024);
  if (v.every((x) => x === 0)) v[0] = 1;
  return v;
}

const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
const l2sq = (a, b) => a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);
const cosine = (a, b) => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));

function close(a, b, tol = 1e-4) {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}

function assertVecEqual(got, want, what) {
  assert.ok(Array.isArray(got), `${what}: vector is not an array: ${JSON.stringify(got)}`);
  assert.equal(got.length, want.length, `${what}: vector length`);
  want.forEach((x, i) => assert.ok(close(got[i], x, 1e-6), `${what}: [${i}] ${got[i]} != ${x}`));
}

/* JSON field output: text of a document [2.4-2.6] or the value [3.x]. */
function jsonValue(v) {
  return typeof v === 'string' ? JSON.parse(v) : v;
}

/* Array field output: plain array [3.x] or {"Data":{"XData":{"data":[...]}}} [2.4-2.6]. */
function arrayValue(v) {
  if (Array.isArray(v)) return v;
  assert.ok(v && v.Data && typeof v.Data === 'object', `array field: unknown shape ${JSON.stringify(v)}`);
  const inner = Object.values(v.Data)[0];
  assert.ok(inner && Array.isArray(inner.data), `array field: unknown shape ${JSON.stringify(v)}`);
  return inner.data;
}

/* The pk of a search row: under the field's name, or "id" (section 5.3). */
function pkOf(row, pkName) {
  return row[pkName] !== undefined ? row[pkName] : row.id;
}

function sortedIds(rows, key) {
  return rows.map((r) => String(pkOf(r, key))).sort((a, b) => Number(a) - Number(b));
}

function idList(ns) {
  return ns.map(String);
}

/* Brute-force top-k: [{id, d}] best first. */
function bruteTopK(rows, query, k, field, metric, keep = () => true) {
  const score = metric === 'L2' ? (v) => l2sq(v, query) : metric === 'IP' ? (v) => dot(v, query) : (v) => cosine(v, query);
  const asc = metric === 'L2';
  return rows
    .filter(keep)
    .map((r) => ({ id: r.pk !== undefined ? r.pk : r.id, d: score(r[field]) }))
    .sort((a, b) => (asc ? a.d - b.d : b.d - a.d))
    .slice(0, k);
}

function assertSorted(rows, ascending, what) {
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1].distance;
    const b = rows[i].distance;
    assert.ok(ascending ? a <= b + 1e-6 : a + 1e-6 >= b, `${what}: not sorted ${ascending ? 'ascending' : 'descending'} at ${i}: ${a}, ${b}`);
  }
}

function assertHits(rows, n, what) {
  assert.ok(Array.isArray(rows), `${what}: data is not an array: ${JSON.stringify(rows)}`);
  assert.equal(rows.length, n, `${what}: ${rows.length} hits instead of ${n}: ${oneLine(JSON.stringify(rows), 300)}`);
  for (const r of rows) assert.equal(typeof r.distance, 'number', `${what}: distance is not a number: ${JSON.stringify(r)}`);
}

/* The exact hits of an oracle, compared with a search answer. */
function assertMatchesOracle(rows, expected, pkName, what) {
  assertHits(rows, expected.length, what);
  rows.forEach((r, i) => {
    assert.equal(String(pkOf(r, pkName)), String(expected[i].id), `${what}: hit ${i} is ${JSON.stringify(r)}, expected ${JSON.stringify(expected[i])}`);
    assert.ok(close(r.distance, expected[i].d), `${what}: hit ${i} distance ${r.distance}, expected ${expected[i].d}`);
  });
}

// ---------------------------------------------------------------- session

const COLORS = ['red', 'green', 'blue'];
const QUICK_N = 200;

function quickRow(i) {
  return { id: i, vector: vec(i, 4), color: COLORS[i % 3], n: i };
}

function customRow(i) {
  const row = {
    pk: i,
    title: `title-${i}`,
    flag: i % 2 === 0,
    i8: (i % 100) - 50,
    i16: i * 10,
    i32: i * 1000,
    i64: i === 50 ? '9007199254740993' : i * 1000000,
    f32: i + 0.5,
    f64: i / 4,
    meta: { k: i, g: i % 2 ? 'odd' : 'even', arr: [i, i + 1] },
    tags: [`t${i % 3}`, 'all'],
    nums: [i, i * 2],
    dense: vec(i, 4),
    dense2: vec(i + 5000, 8),
  };
  if (i % 5 === 0) row.note = null;
  else if (i % 5 !== 1) row.note = `note${i}`;
  if (i % 4 === 0) row.dyn = `x${i}`;
  if (i % 3 === 0) row.level = i;
  return row;
}

const CUSTOM_N = 50;

function customFields() {
  return [
    { fieldName: 'pk', dataType: 'Int64', isPrimary: true },
    { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 } },
    { fieldName: 'flag', dataType: 'Bool' },
    { fieldName: 'i8', dataType: 'Int8' },
    { fieldName: 'i16', dataType: 'Int16' },
    { fieldName: 'i32', dataType: 'Int32' },
    { fieldName: 'i64', dataType: 'Int64' },
    { fieldName: 'f32', dataType: 'Float' },
    { fieldName: 'f64', dataType: 'Double' },
    { fieldName: 'meta', dataType: 'JSON' },
    { fieldName: 'tags', dataType: 'Array', elementDataType: 'VarChar', elementTypeParams: { max_capacity: 8, max_length: 16 } },
    { fieldName: 'nums', dataType: 'Array', elementDataType: 'Int32', elementTypeParams: { max_capacity: 8 } },
    { fieldName: 'note', dataType: 'VarChar', nullable: true, elementTypeParams: { max_length: 32 } },
    { fieldName: 'level', dataType: 'Int32', defaultValue: 7 },
    { fieldName: 'dense', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
    { fieldName: 'dense2', dataType: 'FloatVector', elementTypeParams: { dim: 8 } },
  ];
}

/* Every scalar of a stored custom row, compared with the row inserted. */
function assertCustomRow(got, want, what) {
  assert.equal(String(got.pk), String(want.pk), `${what}: pk`);
  assert.equal(typeof got.pk, 'string', `${what}: Int64 pk must be a string when Accept-Type-Allow-Int64 is false: ${JSON.stringify(got.pk)}`);
  assert.equal(got.title, want.title, `${what}: title`);
  assert.equal(got.flag, want.flag, `${what}: flag`);
  assert.equal(got.i8, want.i8, `${what}: i8`);
  assert.equal(got.i16, want.i16, `${what}: i16`);
  assert.equal(got.i32, want.i32, `${what}: i32`);
  assert.equal(got.i64, String(want.i64), `${what}: Int64 field must be a decimal string when Int64 is disallowed`);
  assert.ok(close(got.f32, want.f32, 1e-7), `${what}: f32 ${got.f32} != ${want.f32}`);
  assert.equal(got.f64, want.f64, `${what}: f64`);
  assert.deepEqual(jsonValue(got.meta), want.meta, `${what}: meta`);
  assert.deepEqual(arrayValue(got.tags), want.tags, `${what}: tags`);
  assert.deepEqual(arrayValue(got.nums), want.nums, `${what}: nums`);
  assert.equal(got.note, want.note === undefined ? null : want.note, `${what}: note (nullable)`);
  assert.equal(got.level, want.level === undefined ? 7 : want.level, `${what}: level (defaultValue 7)`);
  if (want.dyn !== undefined) assert.equal(got.dyn, want.dyn, `${what}: dynamic key dyn`);
  else assert.ok(!('dyn' in got), `${what}: dynamic key dyn should be absent`);
  assert.ok(!('$meta' in got), `${what}: $meta must be spread, not returned`);
}

/* Everything the steps of one session share: clients, names, row sets. */
function sessionContext(cfg, tag) {
  const c = new HttpClient(cfg);
  const c64 = new HttpClient({ ...cfg, acceptInt64: true });
  const sfx = `${tag}_${process.pid.toString(36)}`;
  const Q = `q_${sfx}`; // quick setup, COSINE
  const C = `c_${sfx}`; // custom schema with two vector fields
  const N = `n_${sfx}`; // custom schema without indexes
  const N2 = `n2_${sfx}`;
  const V = `v_${sfx}`; // quick setup, VarChar pk
  const A = `a_${sfx}`; // quick setup, autoID
  const ALIAS = `al_${sfx}`;
  const DB = `db_${sfx}`;
  const P = 'p1';
  const s = (name) => `[${tag}] ${name}`;
  const q = (req) => ({ collectionName: Q, consistencyLevel: 'Strong', ...req });
  const quickRows = Array.from({ length: QUICK_N }, (_, k) => quickRow(k + 1));
  // This session's copy of the custom rows (steps below update it).
  const customRows = Array.from({ length: CUSTOM_N }, (_, k) => customRow(k + 1));

  const needQ = { needs: ['quick', 'quickdata'] };
  const needC = { needs: ['custom', 'customdata'] };
  const cq = (req) => ({ collectionName: C, consistencyLevel: 'Strong', ...req });
  return { cfg, c, c64, Q, C, N, N2, V, A, ALIAS, DB, P, s, q, cq, quickRows, customRows, needQ, needC };
}

/* Steps: quick setup. */
async function quickSetup(t) {
  const { c, Q, s, needQ } = t;

  await step(s('quick: create (dimension, default metric COSINE)'), async () => {
    ok(await c.createCollection({ collectionName: Q, dimension: 4, params: { consistencyLevel: 'Strong' } }), 'create');
  }, { gives: 'quick' });

  await step(s('quick: describe'), async () => {
    const res = await c.describeCollection({ collectionName: Q });
    const d = ok(res, 'describe');
    assert.equal(d.collectionName, Q);
    assert.equal(d.shardsNum, 1, 'shardsNum');
    assert.equal(d.enableDynamicField, true, 'enableDynamicField');
    assert.equal(d.fields.length, 2, `fields: ${JSON.stringify(d.fields)}`);
    assert.equal(d.fields[0].name, 'id');
    assert.equal(d.fields[0].type, 'Int64');
    assert.equal(d.fields[0].primaryKey, true);
    assert.equal(d.fields[0].autoId, false);
    assert.equal(d.fields[1].name, 'vector');
    assert.equal(d.fields[1].type, 'FloatVector');
    assert.deepEqual(d.fields[1].params, [{ key: 'dim', value: '4' }]);
    assert.equal(d.fields[0].id, 100, 'first field id');
    assert.equal(d.fields[1].id, 101, 'second field id');
    assert.equal(d.indexes[0].fieldName, 'vector');
    assert.equal(d.indexes[0].indexName, 'vector');
    assert.equal(d.indexes[0].metricType, 'COSINE');
    assert.equal(d.load, 'LoadStateLoaded');
    assert.equal(d.autoId, false);
    assert.deepEqual(d.aliases, []);
    assert.equal(d.partitionsNum, 1);
    assert.equal(d.consistencyLevel, 'Strong');
    assert.equal(typeof d.collectionID, 'number', 'collectionID is a number');
    assert.ok(Array.isArray(d.properties), 'properties is an array');
    assert.equal(res.message, '', 'describe envelope carries message ""');
  }, { needs: ['quick'] });

  await step(s('collections: list contains the new collection'), async () => {
    const d = ok(await c.listCollections(), 'list');
    assert.ok(Array.isArray(d) && d.includes(Q), `list: ${JSON.stringify(d)}`);
  }, { needs: ['quick'] });

  await step(s('collections: has (true, then false for a missing name)'), async () => {
    assert.equal(ok(await c.hasCollection({ collectionName: Q }), 'has').has, true);
    assert.equal(ok(await c.hasCollection({ collectionName: `${Q}_missing` }), 'has missing').has, false);
  }, { needs: ['quick'] });

  await step(s('quick: get_load_state is loaded'), async () => {
    const res = await c.getCollectionLoadState({ collectionName: Q });
    const d = ok(res, 'get_load_state');
    assert.ok(String(d.loadState).includes('LoadState'), `loadState ${d.loadState}`);
    assert.equal(d.loadState, 'LoadStateLoaded');
    assert.ok(d.loadProgress <= 100, 'loadProgress <= 100');
    assert.equal(d.loadProgress, 100);
  }, { needs: ['quick'] });

  await step(s('quick: insert 200 rows with dynamic fields'), async () => {
    const rows = Array.from({ length: QUICK_N }, (_, k) => quickRow(k + 1));
    const res = await c.insert({ collectionName: Q, data: rows });
    const d = ok(res, 'insert');
    assert.equal(d.insertCount, QUICK_N, 'insertCount');
    assert.deepEqual(d.insertIds, idList(rows.map((r) => r.id)), 'insertIds are the pks as strings (Int64 disallowed)');
  }, { needs: ['quick'], gives: 'quickdata' });


  await step(s('quick: get_stats rowCount'), async () => {
    const d = ok(await c.getCollectionStatistics({ collectionName: Q }), 'get_stats');
    assert.equal(typeof d.rowCount, 'number', 'rowCount is a number');
    assert.equal(d.rowCount, QUICK_N);
  }, needQ);

}

/* Steps: quick setup: reads. */
async function quickReads(t) {
  const { c, c64, Q, s, q, quickRows, needQ } = t;

  await step(s('entities: get two ids returns those rows with their values'), async () => {
    const d = ok(await c.get({ collectionName: Q, id: [5, 6], outputFields: ['vector', 'color', 'n'] }), 'get');
    assert.equal(d.length, 2, `rows: ${show(d)}`);
    for (const want of [quickRow(5), quickRow(6)]) {
      const got = d.find((r) => r.id === String(want.id));
      assert.ok(got, `row ${want.id} missing (ids must be strings): ${show(d)}`);
      assertVecEqual(got.vector, want.vector, `row ${want.id} vector`);
      assert.equal(got.color, want.color);
      assert.equal(got.n, want.n);
    }
  }, needQ);

  await step(s('entities: get one id (scalar, default outputFields)'), async () => {
    const d = ok(await c.get({ collectionName: Q, id: 9 }), 'get');
    assert.equal(d.length, 1, `rows: ${show(d)}`);
    assert.equal(d[0].id, '9');
    assertVecEqual(d[0].vector, vec(9, 4), 'vector');
    assert.equal(d[0].color, quickRow(9).color);
  }, needQ);

  await step(s('entities: query with a pk filter and outputFields'), async () => {
    const d = ok(await c.query(q({ filter: 'id in [10, 11, 12]', outputFields: ['id', 'color', 'n'] })), 'query');
    assert.deepEqual(sortedIds(d, 'id'), ['10', '11', '12']);
    for (const r of d) {
      assert.equal(r.color, COLORS[Number(r.id) % 3]);
      assert.equal(r.n, Number(r.id));
      assert.ok(!('vector' in r), 'vector not requested');
    }
  }, needQ);

  await step(s('entities: query with a filter on dynamic fields'), async () => {
    const d = ok(await c.query(q({ filter: 'color == "red" and n < 30', outputFields: ['color'] })), 'query');
    const want = [];
    for (let i = 1; i < 30; i++) if (i % 3 === 0) want.push(String(i));
    assert.deepEqual(sortedIds(d, 'id'), want);
  }, needQ);

  await step(s('entities: query string filters (quotes, in, not in, like)'), async () => {
    const cases = [
      [`color == 'red' and id <= 12`, (r) => r.color === 'red' && r.id <= 12],
      ['color in ["green", "blue"] and id < 8', (r) => ['green', 'blue'].includes(r.color) && r.id < 8],
      ['color not in ["green", "blue"] and id < 8', (r) => !['green', 'blue'].includes(r.color) && r.id < 8],
      ['color like "gr%" and 10 < id <= 20', (r) => r.color.startsWith('gr') && r.id > 10 && r.id <= 20],
    ];
    for (const [filter, pred] of cases) {
      const d = ok(await c.query(q({ filter, outputFields: ['id'] })), filter);
      assert.deepEqual(sortedIds(d, 'id'), idList(quickRows.filter(pred).map((r) => r.id)), filter);
    }
  }, needQ);

  await step(s('entities: query without limit returns 100 rows'), async () => {
    const d = ok(await c.query(q({ filter: 'id > 0', outputFields: ['id'] })), 'query');
    assert.equal(d.length, 100);
    assert.equal(new Set(d.map((r) => r.id)).size, 100, 'distinct rows');
  }, needQ);

  await step(s('entities: query limit and offset page through the same order'), async () => {
    const all = ok(await c.query(q({ filter: 'id > 0', outputFields: ['id'], limit: 15 })), 'query limit 15');
    const page = ok(await c.query(q({ filter: 'id > 0', outputFields: ['id'], limit: 5, offset: 10 })), 'query offset 10');
    assert.equal(all.length, 15);
    assert.deepEqual(page.map((r) => r.id), all.slice(10, 15).map((r) => r.id));
  }, needQ);

  await step(s('entities: query count(*) (Int64 as string) with and without filter'), async () => {
    const d = ok(await c.query(q({ filter: '', outputFields: ['count(*)'] })), 'count');
    assert.deepEqual(d, [{ 'count(*)': String(QUICK_N) }]);
    const red = ok(await c.query(q({ filter: 'color == "red"', outputFields: ['count(*)'] })), 'count red');
    assert.deepEqual(red, [{ 'count(*)': String(Math.floor(QUICK_N / 3)) }]);
  }, needQ);

  await step(s('entities: acceptInt64 client gets numbers for ids and count(*)'), async () => {
    const d = ok(await c64.query(q({ filter: 'id in [4]', outputFields: ['id'] })), 'query');
    assert.deepEqual(d, [{ id: 4 }]);
    const n = ok(await c64.query(q({ filter: '', outputFields: ['count(*)'] })), 'count');
    assert.deepEqual(n, [{ 'count(*)': QUICK_N }]);
  }, needQ);

}

/* Steps: quick setup: search. */
async function quickSearch(t) {
  const { c, Q, s, q, quickRows, needQ } = t;

  await step(s('search: nq=1 finds the stored vector first (COSINE, descending)'), async () => {
    const res = await c.search({ collectionName: Q, data: [vec(7, 4)], limit: 5, outputFields: ['color'] });
    const d = ok(res, 'search');
    assertHits(d, 5, 'search');
    assert.equal(d[0].id, '7', `first hit ${show(d[0])}`);
    assert.ok(close(d[0].distance, 1, 1e-5), `self distance ${d[0].distance}`);
    assert.equal(d[0].color, quickRow(7).color);
    assertSorted(d, false, 'COSINE');
    assertMatchesOracle(d, bruteTopK(quickRows, vec(7, 4), 5, 'vector', 'COSINE'), 'id', 'search');
    if (res.topks !== undefined) assert.deepEqual(res.topks, [5]);
  }, needQ);

  await step(s('search: filter on a dynamic field'), async () => {
    const d = ok(await c.search({ collectionName: Q, data: [vec(7, 4)], limit: 5, filter: 'color == "red"', outputFields: ['color', 'n'] }), 'search');
    assertHits(d, 5, 'search');
    for (const r of d) assert.equal(r.color, 'red', `hit ${show(r)}`);
    const want = bruteTopK(quickRows, vec(7, 4), 5, 'vector', 'COSINE', (r) => r.color === 'red');
    assertMatchesOracle(d, want, 'id', 'filtered search');
  }, needQ);

  await step(s('search: nq=2 is split by topks into two lists'), async () => {
    const res = await c.search({ collectionName: Q, data: [vec(8, 4), vec(9, 4)], limit: 3, outputFields: ['n'] });
    const d = ok(res, 'search');
    assert.deepEqual(res.topks, [3, 3], `topks: ${show(res)}`);
    assert.ok(Array.isArray(d) && d.length === 2 && Array.isArray(d[0]) && Array.isArray(d[1]), `not split: ${show(d)}`);
    assertHits(d[0], 3, 'query 0');
    assertHits(d[1], 3, 'query 1');
    assert.equal(d[0][0].id, '8');
    assert.equal(d[1][0].id, '9');
    assert.equal(d[1][0].n, 9);
  }, needQ);

  await step(s('search: nq=2 with a filter'), async () => {
    const res = await c.search({ collectionName: Q, data: [vec(8, 4), vec(9, 4)], limit: 4, filter: 'id > 100' });
    const d = ok(res, 'search');
    assert.ok(Array.isArray(d) && d.length === 2 && Array.isArray(d[0]), `not split: ${show(res)}`);
    for (let k = 0; k < 2; k++) {
      const want = bruteTopK(quickRows, vec(8 + k, 4), 4, 'vector', 'COSINE', (r) => r.id > 100);
      assertMatchesOracle(d[k], want, 'id', `query ${k}`);
    }
  }, needQ);

  await step(s('search: searchParams (metricType + params.ef), offset'), async () => {
    const sp = { metricType: 'COSINE', params: { ef: 64 } };
    const four = ok(await c.search({ collectionName: Q, data: [vec(11, 4)], limit: 4, searchParams: sp }), 'search limit 4');
    const off = ok(await c.search({ collectionName: Q, data: [vec(11, 4)], limit: 3, offset: 1, searchParams: sp }), 'search offset 1');
    assertHits(four, 4, 'limit 4');
    assert.equal(four[0].id, '11');
    assert.deepEqual(off.map((r) => r.id), four.slice(1).map((r) => r.id), 'offset 1 skips the first hit');
  }, needQ);

  await step(s('search: range search (radius/range_filter, COSINE)'), async () => {
    const d = ok(await c.search({ collectionName: Q, data: [vec(12, 4)], limit: 50, searchParams: { params: { radius: 0.8, range_filter: 1.0 } } }), 'range');
    const want = quickRows.filter((r) => { const x = cosine(r.vector, vec(12, 4)); return x > 0.8 && x <= 1.0 + 1e-6; }).length;
    assert.ok(d.length > 0, 'at least the vector itself');
    assert.equal(d.length, Math.min(50, want), `hits in (0.8, 1.0]: ${d.length}, expected ${Math.min(50, want)}`);
    for (const r of d) assert.ok(r.distance > 0.8 - 1e-6 && r.distance <= 1 + 1e-5, `distance ${r.distance} outside (0.8, 1]`);
  }, needQ);

  await step(s('search: no hits is an empty list'), async () => {
    const res = await c.search({ collectionName: Q, data: [vec(13, 4)], limit: 5, filter: 'id < 0' });
    assert.deepEqual(ok(res, 'search'), []);
  }, needQ);

  await step(s('search: outputFields ["*"] returns vectors and dynamic keys'), async () => {
    const d = ok(await c.search({ collectionName: Q, data: [vec(15, 4)], limit: 1, outputFields: ['*'] }), 'search');
    assert.equal(d[0].id, '15');
    assertVecEqual(d[0].vector, vec(15, 4), 'vector');
    assert.equal(d[0].color, quickRow(15).color);
    assert.equal(d[0].n, 15);
  }, needQ);

  await step(s('search: no limit means 100 hits'), async () => {
    const d = ok(await c.search({ collectionName: Q, data: [vec(13, 4)] }), 'search');
    assertHits(d, 100, 'default limit');
    assert.equal(d[0].id, '13');
  }, needQ);

  await step(s('search: flattened searchParams; the same key twice with two values is code 1100'), async () => {
    const d = ok(await c.search({ collectionName: Q, data: [vec(14, 4)], limit: 2, searchParams: { metricType: 'COSINE', ef: 40 } }), 'flattened');
    assert.equal(d[0].id, '14');
    fails(await c.search({ collectionName: Q, data: [vec(14, 4)], limit: 2, searchParams: { ef: 40, params: { ef: 50 } } }), 1100, 'ambiguous ef');
  }, needQ);

  await step(s('entities: query with exprParams templates'), async () => {
    const d = ok(await c.query(q({ filter: 'id in {ids} and n > {min}', exprParams: { ids: [4, 5, 6, 7], min: 5 }, outputFields: ['n'] })), 'query');
    assert.deepEqual(sortedIds(d, 'id'), ['6', '7']);
  }, needQ);

}

/* Steps: quick setup: writes and load state. */
async function quickWrites(t) {
  const { cfg, c, Q, s, q, needQ } = t;

  await step(s('entities: upsert replaces a row (upsertCount, upsertIds)'), async () => {
    const d = ok(await c.upsert({ collectionName: Q, data: [{ id: 7, vector: vec(1007, 4), color: 'purple', n: 7 }] }), 'upsert');
    assert.equal(d.upsertCount, 1);
    const got = ok(await c.query(q({ filter: 'id == 7', outputFields: ['id', 'vector', 'color'] })), 'query');
    assert.equal(got.length, 1, `rows: ${show(got)}`);
    assert.deepEqual(d.upsertIds, [got[0].id], 'upsertIds equal the queried id');
    assert.equal(got[0].id, '7');
    assert.equal(got[0].color, 'purple');
    assertVecEqual(got[0].vector, vec(1007, 4), 'upserted vector');
    const n = ok(await c.query(q({ filter: '', outputFields: ['count(*)'] })), 'count');
    assert.deepEqual(n, [{ 'count(*)': String(QUICK_N) }], 'upsert does not add a row');
    const hit = ok(await c.search({ collectionName: Q, data: [vec(1007, 4)], limit: 1 }), 'search');
    assert.equal(hit[0].id, '7', 'the new vector is searchable');
  }, needQ);

  await step(s('entities: delete by filter'), async () => {
    const d = ok(await c.delete({ collectionName: Q, filter: 'id in [1, 2, 3]' }), 'delete');
    if (d && d.deleteCount !== undefined) assert.equal(d.deleteCount, 3, 'deleteCount');
    const rows = ok(await c.query(q({ filter: 'id in [1, 2, 3]' })), 'query');
    assert.deepEqual(rows, []);
    const n = ok(await c.query(q({ filter: '', outputFields: ['count(*)'] })), 'count');
    assert.deepEqual(n, [{ 'count(*)': String(QUICK_N - 3) }]);
    const hit = ok(await c.search({ collectionName: Q, data: [vec(2, 4)], limit: 3 }), 'search');
    assert.ok(!hit.some((r) => ['1', '2', '3'].includes(r.id)), `deleted rows found: ${show(hit)}`);
  }, needQ);

  await step(s('entities: Int64 pk beyond 2^53 given and filtered as a decimal string'), async () => {
    const big = '9007199254740993';
    const ins = ok(await c.insert({ collectionName: Q, data: [{ id: big, vector: vec(999, 4), color: 'big' }] }), 'insert');
    assert.deepEqual(ins.insertIds, [big]);
    const got = ok(await c.get({ collectionName: Q, id: big, outputFields: ['color'] }), 'get');
    assert.deepEqual(got, [{ id: big, color: 'big' }]);
    const byFilter = ok(await c.query(q({ filter: `id == ${big}`, outputFields: ['id'] })), 'query');
    assert.deepEqual(byFilter, [{ id: big }], `2^53+1 must not be rounded to 2^53: ${show(byFilter)}`);
    const hit = ok(await c.search({ collectionName: Q, data: [vec(999, 4)], limit: 1 }), 'search');
    assert.equal(hit[0].id, big);
    ok(await c.delete({ collectionName: Q, filter: `id == ${big}` }), 'delete');
    assert.deepEqual(ok(await c.query(q({ filter: 'color == "big"' })), 'query after delete'), []);
  }, needQ);

  await step(s('collections: release, then search/query give code 101, load again'), async () => {
    ok(await c.releaseCollection({ collectionName: Q }), 'release');
    const st = ok(await c.getCollectionLoadState({ collectionName: Q }), 'get_load_state');
    assert.equal(st.loadState, 'LoadStateNotLoad');
    assert.equal(ok(await c.describeCollection({ collectionName: Q }), 'describe').load, 'LoadStateNotLoad');
    fails(await c.search({ collectionName: Q, data: [vec(7, 4)], limit: 1 }), 101, 'search released');
    fails(await c.query(q({ filter: 'id > 0' })), 101, 'query released');
    ok(await c.loadCollection({ collectionName: Q }), 'load');
    await waitLoaded(c, Q);
    const hit = ok(await c.search({ collectionName: Q, data: [vec(20, 4)], limit: 1 }), 'search after load');
    assert.equal(hit[0].id, '20');
  }, needQ);

  await step(s('wire: float32 values (distance, vectors) use the shortest text'), async () => {
    // The SDK cannot see number text, so this step records the raw bodies
    // with a pass-through fetch (section 3.3: "shortest float32 representation").
    const bodies = [];
    const rec = new HttpClient({ ...cfg, fetch: async (url, init) => {
      const res = await (cfg.fetch || fetch)(url, init);
      bodies.push(await res.clone().text());
      return res;
    } });
    ok(await rec.search({ collectionName: Q, data: [vec(40, 4)], limit: 5, outputFields: ['vector'] }), 'search');
    ok(await rec.get({ collectionName: Q, id: [40, 41], outputFields: ['vector'] }), 'get');
    for (const text of bodies) {
      const numbers = text.replace(/"(?:[^"\\]|\\.)*"/g, '""').match(/-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?/g) || [];
      const long = numbers.filter((t) => t.replace(/^-?0*\.?0*|[eE].*$|\./g, '').length > 9);
      assert.equal(long.length, 0, `${long.length} numbers longer than a float32 needs, e.g. ${long.slice(0, 3).join(', ')} in ${oneLine(text, 160)}`);
    }
  }, needQ);
}

/* Steps: indexes. */
async function indexes(t) {
  const { c, Q, s, quickRows, needQ } = t;

  await step(s('indexes: list and describe the quick-setup index'), async () => {
    assert.deepEqual(ok(await c.listIndexes({ collectionName: Q }), 'list'), ['vector']);
    const d = ok(await c.describeIndex({ collectionName: Q, indexName: 'vector' }), 'describe');
    assert.ok(Array.isArray(d) && d.length === 1, `describe: ${show(d)}`);
    assert.equal(d[0].indexName, 'vector');
    assert.equal(d[0].fieldName, 'vector');
    assert.equal(d[0].indexType, 'AUTOINDEX');
    assert.equal(d[0].metricType, 'COSINE');
    assert.ok(typeof d[0].indexState === 'string', 'indexState');
  }, { needs: ['quick'] });

  await step(s('indexes: release, drop, create IVF_FLAT, describe, load, search'), async () => {
    ok(await c.releaseCollection({ collectionName: Q }), 'release');
    ok(await c.dropIndex({ collectionName: Q, indexName: 'vector' }), 'drop');
    assert.deepEqual(ok(await c.listIndexes({ collectionName: Q }), 'list after drop'), []);
    ok(await c.createIndex({
      collectionName: Q,
      indexParams: [{ fieldName: 'vector', indexName: 'vec_ivf', metricType: 'COSINE', params: { index_type: 'IVF_FLAT', nlist: 8 } }],
    }), 'create');
    assert.deepEqual(ok(await c.listIndexes({ collectionName: Q }), 'list after create'), ['vec_ivf']);
    const d = ok(await c.describeIndex({ collectionName: Q, indexName: 'vec_ivf' }), 'describe');
    assert.equal(d[0].indexName, 'vec_ivf');
    assert.equal(d[0].indexType, 'IVF_FLAT');
    assert.equal(d[0].metricType, 'COSINE');
    assert.equal(d[0].fieldName, 'vector');
    ok(await c.loadCollection({ collectionName: Q }), 'load');
    await waitLoaded(c, Q);
    const hit = ok(await c.search({ collectionName: Q, data: [vec(30, 4)], limit: 3, searchParams: { params: { nprobe: 8 } } }), 'search');
    const live = quickRows.filter((r) => r.id > 3 && r.id !== 7);
    assertMatchesOracle(hit, bruteTopK(live, vec(30, 4), 3, 'vector', 'COSINE'), 'id', 'IVF_FLAT nprobe=nlist is exact');
  }, needQ);
}

/* Steps: partitions. */
async function partitions(t) {
  const { c, Q, P, s, q } = t;

  await step(s('partitions: list is ["_default"]'), async () => {
    assert.deepEqual(ok(await c.listPartitions({ collectionName: Q }), 'list'), ['_default']);
  }, { needs: ['quick'] });

  await step(s('partitions: create, has, list, empty stats'), async () => {
    ok(await c.createPartition({ collectionName: Q, partitionName: P }), 'create');
    assert.equal(ok(await c.hasPartition({ collectionName: Q, partitionName: P }), 'has').has, true);
    assert.equal(ok(await c.hasPartition({ collectionName: Q, partitionName: 'nope' }), 'has missing').has, false);
    const list = ok(await c.listPartitions({ collectionName: Q }), 'list');
    assert.deepEqual([...list].sort(), ['_default', P].sort());
    assert.equal(ok(await c.getPartitionStatistics({ collectionName: Q, partitionName: P }), 'stats').rowCount, 0);
  }, { needs: ['quick'], gives: 'partition' });

  await step(s('partitions: insert into a partition, stats, query and search scoped to it'), async () => {
    const rows = [1001, 1002, 1003].map((i) => ({ id: i, vector: vec(i, 4), color: 'part', n: i }));
    const ins = ok(await c.insert({ collectionName: Q, partitionName: P, data: rows }), 'insert');
    assert.equal(ins.insertCount, 3);
    assert.equal(ok(await c.getPartitionStatistics({ collectionName: Q, partitionName: P }), 'stats').rowCount, 3);
    const got = ok(await c.query(q({ filter: 'id > 0', partitionNames: [P], outputFields: ['color'] })), 'query');
    assert.deepEqual(sortedIds(got, 'id'), ['1001', '1002', '1003']);
    const hit = ok(await c.search({ collectionName: Q, data: [vec(50, 4)], limit: 10, partitionNames: [P] }), 'search');
    assert.deepEqual(sortedIds(hit, 'id'), ['1001', '1002', '1003'], 'only the partition\'s rows');
    const all = ok(await c.query(q({ filter: 'color == "part"', outputFields: ['id'] })), 'query all partitions');
    assert.equal(all.length, 3, 'rows of every partition are visible without partitionNames');
  }, { needs: ['quick', 'partition'] });

  await step(s('partitions: release and load'), async () => {
    ok(await c.releasePartitions({ collectionName: Q, partitionNames: [P] }), 'release');
    ok(await c.loadPartitions({ collectionName: Q, partitionNames: [P] }), 'load');
    await waitLoaded(c, Q, [P]);
    const got = ok(await c.query(q({ filter: 'id > 0', partitionNames: [P], outputFields: ['id'] })), 'query');
    assert.equal(got.length, 3);
  }, { needs: ['quick', 'partition'] });

  await step(s('partitions: get_load_state, get and delete scoped to a partition'), async () => {
    const st = ok(await c.getCollectionLoadState({ collectionName: Q, partitionNames: [P] }), 'get_load_state');
    assert.equal(st.loadState, 'LoadStateLoaded');
    const inP = ok(await c.get({ collectionName: Q, id: [1001, 10], partitionNames: [P], outputFields: ['color'] }), 'get in p1');
    assert.deepEqual(inP, [{ id: '1001', color: 'part' }]);
    const inDefault = ok(await c.get({ collectionName: Q, id: [1001, 10], partitionNames: ['_default'], outputFields: ['color'] }), 'get in _default');
    assert.deepEqual(inDefault, [{ id: '10', color: quickRow(10).color }]);
    const del = ok(await c.delete({ collectionName: Q, partitionName: P, filter: 'id in [1001, 10]' }), 'delete in p1');
    if (del && del.deleteCount !== undefined) assert.equal(del.deleteCount, 1, 'only the row of p1 is deleted');
    assert.equal(ok(await c.getPartitionStatistics({ collectionName: Q, partitionName: P }), 'stats').rowCount, 2);
    const ten = ok(await c.get({ collectionName: Q, id: 10 }), 'get 10');
    assert.equal(ten.length, 1, 'a delete scoped to p1 leaves _default alone');
  }, { needs: ['quick', 'partition'] });

  await step(s('partitions: release then drop; rows go with it'), async () => {
    ok(await c.releasePartitions({ collectionName: Q, partitionNames: [P] }), 'release');
    ok(await c.dropPartition({ collectionName: Q, partitionName: P }), 'drop');
    assert.equal(ok(await c.hasPartition({ collectionName: Q, partitionName: P }), 'has').has, false);
    assert.deepEqual(ok(await c.listPartitions({ collectionName: Q }), 'list'), ['_default']);
    await waitLoaded(c, Q);
    const got = ok(await c.query(q({ filter: 'color == "part"' })), 'query');
    assert.deepEqual(got, []);
  }, { needs: ['quick', 'partition'] });
}

/* Steps: custom schema. */
async function customSchema(t) {
  const { c, C, s, customRows } = t;

  await step(s('custom: create with scalar/JSON/Array/nullable/dynamic fields and indexParams'), async () => {
    ok(await c.createCollection({
      collectionName: C,
      schema: { autoID: false, enableDynamicField: true, fields: customFields() },
      indexParams: [
        { fieldName: 'dense', indexName: 'dense_idx', metricType: 'L2', params: { index_type: 'HNSW', M: 16, efConstruction: 64 } },
        { fieldName: 'dense2', indexName: 'dense2_idx', metricType: 'IP', params: { index_type: 'FLAT' } },
      ],
      params: { consistencyLevel: 'Strong' },
    }), 'create');
  }, { gives: 'custom' });

  await step(s('custom: describe shows every field, loaded, first vector index'), async () => {
    const d = ok(await c.describeCollection({ collectionName: C }), 'describe');
    const want = customFields();
    assert.equal(d.fields.length, want.length, `fields: ${show(d.fields)}`);
    want.forEach((f, i) => {
      const g = d.fields[i];
      assert.equal(g.name, f.fieldName, `field ${i} name`);
      assert.equal(g.type, f.dataType, `field ${f.fieldName} type`);
      assert.equal(g.id, 100 + i, `field ${f.fieldName} id`);
      assert.equal(g.primaryKey, !!f.isPrimary, `field ${f.fieldName} primaryKey`);
      assert.equal(g.nullable, !!f.nullable, `field ${f.fieldName} nullable`);
      if (f.elementDataType) assert.equal(g.elementType, f.elementDataType, `field ${f.fieldName} elementType`);
    });
    const dense = d.fields.find((f) => f.name === 'dense');
    assert.ok(dense.params.some((p) => p.key === 'dim' && p.value === '4'), `dense params ${show(dense.params)}`);
    const level = d.fields.find((f) => f.name === 'level');
    assert.deepEqual(level.defaultValue, { Data: { IntData: 7 } }, `level defaultValue (protobuf shape): ${show(level)}`);
    const title = d.fields.find((f) => f.name === 'title');
    assert.ok(title.params.some((p) => p.key === 'max_length' && p.value === '64'), `title params ${show(title.params)}`);
    assert.equal(d.enableDynamicField, true);
    assert.equal(d.autoId, false);
    assert.equal(d.load, 'LoadStateLoaded');
    assert.equal(d.consistencyLevel, 'Strong');
    assert.ok(d.indexes.length >= 1, 'indexes');
    assert.equal(d.indexes[0].fieldName, 'dense');
    assert.equal(d.indexes[0].indexName, 'dense_idx');
    assert.equal(d.indexes[0].metricType, 'L2');
  }, { needs: ['custom'] });

  await step(s('custom: list and describe both indexes'), async () => {
    const list = ok(await c.listIndexes({ collectionName: C }), 'list');
    assert.deepEqual([...list].sort(), ['dense2_idx', 'dense_idx']);
    const d = ok(await c.describeIndex({ collectionName: C, indexName: 'dense_idx' }), 'describe');
    assert.equal(d[0].indexType, 'HNSW');
    assert.equal(d[0].metricType, 'L2');
    assert.equal(d[0].fieldName, 'dense');
    const d2 = ok(await c.describeIndex({ collectionName: C, indexName: 'dense2_idx' }), 'describe 2');
    assert.equal(d2[0].indexType, 'FLAT');
    assert.equal(d2[0].metricType, 'IP');
  }, { needs: ['custom'] });

  await step(s('custom: insert rows of every type (Int64 as string, null, missing nullable, dynamic)'), async () => {
    const d = ok(await c.insert({ collectionName: C, data: customRows }), 'insert');
    assert.equal(d.insertCount, CUSTOM_N);
    assert.deepEqual(d.insertIds, idList(customRows.map((r) => r.pk)));
  }, { needs: ['custom'], gives: 'customdata' });


}

/* Steps: custom schema: reads and filters. */
async function customReads(t) {
  const { c, C, s, cq, customRows, needC } = t;

  await step(s('custom: get returns every value as inserted'), async () => {
    const d = ok(await c.get({ collectionName: C, id: [1, 4, 5, 50], outputFields: ['*'] }), 'get');
    assert.equal(d.length, 4, `rows: ${show(d)}`);
    for (const want of [1, 4, 5, 50].map((i) => customRows[i - 1])) {
      const got = d.find((r) => r.pk === String(want.pk));
      assert.ok(got, `row ${want.pk} missing: ${show(d)}`);
      assertCustomRow(got, want, `row ${want.pk}`);
      assertVecEqual(got.dense, want.dense, `row ${want.pk} dense`);
      assertVecEqual(got.dense2, want.dense2, `row ${want.pk} dense2`);
    }
  }, needC);

  const filters = [
    ['i32 >= 10000 and flag == true', (r) => r.i32 >= 10000 && r.flag],
    ['title like "title-1%"', (r) => r.title.startsWith('title-1')],
    ['array_contains(tags, "t0")', (r) => r.tags.includes('t0')],
    ['meta["g"] == "odd"', (r) => r.meta.g === 'odd'],
    ['note is null', (r) => r.note === undefined || r.note === null],
    ['note is not null and i8 < -30', (r) => typeof r.note === 'string' && r.i8 < -30],
    ['json_contains(meta["arr"], 7)', (r) => r.meta.arr.includes(7)],
    ['f32 > 10 && f64 <= 5', (r) => r.f32 > 10 && r.f64 <= 5],
    ['pk in [3, 4, 99] or i16 == 200', (r) => [3, 4, 99].includes(r.pk) || r.i16 === 200],
    ['dyn == "x8"', (r) => r.dyn === 'x8'],
    ['not (i64 > 10000000) and pk % 7 == 0', (r) => !(Number(r.i64) > 10000000) && r.pk % 7 === 0],
    ['array_length(nums) == 2 and nums[1] > 90', (r) => r.nums.length === 2 && r.nums[1] > 90],
    ['level == 7 and pk < 10', (r) => r.level === undefined && r.pk < 10],
  ];
  for (const [filter, pred] of filters) {
    await step(s(`custom: query filter ${filter}`), async () => {
      const d = ok(await c.query(cq({ filter, outputFields: ['pk'], limit: 100 })), 'query');
      assert.deepEqual(sortedIds(d, 'pk'), idList(customRows.filter(pred).map((r) => r.pk)));
    }, needC);
  }

  await step(s('custom: query outputFields of every type'), async () => {
    const d = ok(await c.query(cq({ filter: 'pk in [2, 3]', outputFields: ['title', 'flag', 'i8', 'i16', 'i32', 'i64', 'f32', 'f64', 'meta', 'tags', 'nums', 'note', 'level', 'dyn'] })), 'query');
    assert.equal(d.length, 2);
    for (const got of d) assertCustomRow(got, customRows[Number(got.pk) - 1], `row ${got.pk}`);
  }, needC);

}

/* Steps: custom schema: search and hybrid search. */
async function customSearch(t) {
  const { c, C, s, customRows, needC } = t;

  await step(s('custom: search HNSW/L2 with annsField, filter, searchParams, outputFields'), async () => {
    const res = await c.search({
      collectionName: C, data: [vec(10, 4)], annsField: 'dense', limit: 5, filter: 'flag == true',
      outputFields: ['title', 'i32', 'meta', 'tags'], searchParams: { metricType: 'L2', params: { ef: 64 } },
    });
    const d = ok(res, 'search');
    const want = bruteTopK(customRows, vec(10, 4), 5, 'dense', 'L2', (r) => r.flag);
    assertMatchesOracle(d, want, 'pk', 'L2 search');
    assert.equal(typeof pkOf(d[0], 'pk'), 'string', 'Int64 pk is a string');
    assert.ok(close(d[0].distance, 0, 1e-6), `self L2 distance ${d[0].distance}`);
    assertSorted(d, true, 'L2');
    for (const r of d) {
      const row = customRows[Number(pkOf(r, 'pk')) - 1];
      assert.equal(r.title, row.title);
      assert.equal(r.i32, row.i32);
      assert.deepEqual(jsonValue(r.meta), row.meta);
      assert.deepEqual(arrayValue(r.tags), row.tags);
      assert.ok(!('dense' in r), 'vector not requested');
    }
  }, needC);

  await step(s('custom: search FLAT/IP on the second vector field matches brute force'), async () => {
    const query = vec(5020, 8);
    const d = ok(await c.search({ collectionName: C, data: [query], annsField: 'dense2', limit: 6 }), 'search');
    assertMatchesOracle(d, bruteTopK(customRows, query, 6, 'dense2', 'IP'), 'pk', 'IP search');
    assertSorted(d, false, 'IP');
  }, needC);

  await step(s('custom: search nq=2 with a filter on the second vector field'), async () => {
    const qs = [vec(5011, 8), vec(5012, 8)];
    const res = await c.search({ collectionName: C, data: qs, annsField: 'dense2', limit: 4, filter: 'pk < 40' });
    const d = ok(res, 'search');
    assert.deepEqual(res.topks, [4, 4]);
    qs.forEach((v, k) => assertMatchesOracle(d[k], bruteTopK(customRows, v, 4, 'dense2', 'IP', (r) => r.pk < 40), 'pk', `query ${k}`));
  }, needC);

  await step(s('custom: search without annsField on two vector fields is rejected'), async () => {
    const res = await c.search({ collectionName: C, data: [vec(1, 4)], limit: 3 });
    assert.notEqual(res.code, 0, `expected an error, got ${show(res)}`);
  }, needC);

  function routeHits(query, field, metric, keep) {
    return bruteTopK(customRows, query, 10, field, metric, keep);
  }

  await step(s('hybrid: rrf rerank matches Σ 1/(k+rank)'), async () => {
    const v1 = vec(20, 4);
    const v2 = vec(5020, 8);
    const res = await c.hybridSearch({
      collectionName: C,
      search: [
        { data: [v1], annsField: 'dense', limit: 10, params: { ef: 32 } },
        { data: [v2], annsField: 'dense2', limit: 10 },
      ],
      rerank: { strategy: 'rrf', params: { k: 60 } },
      limit: 3,
      outputFields: ['title'],
    });
    const d = ok(res, 'hybrid_search');
    assertHits(d, 3, 'hybrid');
    const fused = new Map();
    for (const hits of [routeHits(v1, 'dense', 'L2'), routeHits(v2, 'dense2', 'IP')]) {
      hits.forEach((h, i) => fused.set(h.id, (fused.get(h.id) || 0) + 1 / (60 + i + 1)));
    }
    const best = [...fused.values()].sort((a, b) => b - a).slice(0, 3);
    d.forEach((r, i) => {
      const id = Number(pkOf(r, 'pk'));
      assert.ok(close(r.distance, best[i], 1e-5), `hit ${i} score ${r.distance}, expected ${best[i]}`);
      assert.ok(close(fused.get(id) || -1, r.distance, 1e-5), `hit ${i} pk ${id} has fused score ${fused.get(id)}, got ${r.distance}`);
      assert.equal(r.title, `title-${id}`);
    });
    assertSorted(d, false, 'fused scores');
  }, needC);

  await step(s('hybrid: weighted rerank with norm_score and per-route filters'), async () => {
    const v1 = vec(21, 4);
    const v2 = vec(5021, 8);
    const keep = (r) => r.flag === false;
    const res = await c.hybridSearch({
      collectionName: C,
      search: [
        { data: [v1], annsField: 'dense', limit: 10, filter: 'flag == false' },
        { data: [v2], annsField: 'dense2', limit: 10, filter: 'flag == false' },
      ],
      rerank: { strategy: 'weighted', params: { weights: [0.7, 0.3], norm_score: true } },
      limit: 4,
      outputFields: ['flag'],
    });
    const d = ok(res, 'hybrid_search');
    assertHits(d, 4, 'hybrid');
    const fused = new Map();
    const norms = [(x) => 1 - (2 * Math.atan(x)) / Math.PI, (x) => 0.5 + Math.atan(x) / Math.PI];
    [routeHits(v1, 'dense', 'L2', keep), routeHits(v2, 'dense2', 'IP', keep)].forEach((hits, k) => {
      const w = [0.7, 0.3][k];
      for (const h of hits) fused.set(h.id, (fused.get(h.id) || 0) + w * norms[k](h.d));
    });
    const best = [...fused.values()].sort((a, b) => b - a).slice(0, 4);
    d.forEach((r, i) => {
      assert.equal(r.flag, false, `hit ${show(r)} breaks the filter`);
      assert.ok(close(r.distance, best[i], 1e-4), `hit ${i} score ${r.distance}, expected ${best[i]}`);
    });
    assert.equal(Number(pkOf(d[0], 'pk')), 21, 'the row matching route 1 exactly comes first');
  }, needC);

  await step(s('custom: search grouped by a field (groupingField)'), async () => {
    const d = ok(await c.search({ collectionName: C, data: [vec(17, 4)], annsField: 'dense', limit: 2, groupingField: 'flag', outputFields: ['flag'] }), 'search');
    assertHits(d, 2, 'one hit per group');
    const best = [true, false].map((f) => bruteTopK(customRows, vec(17, 4), 1, 'dense', 'L2', (r) => r.flag === f)[0]);
    best.sort((a, b) => a.d - b.d);
    assertMatchesOracle(d, best, 'pk', 'grouped');
    assert.notEqual(d[0].flag, d[1].flag, 'the group field is in the rows');
  }, needC);

}

/* Steps: custom schema: writes and properties. */
async function customWrites(t) {
  const { c, C, s, cq, customRows, needC } = t;

  await step(s('custom: upsert a full row, get it back'), async () => {
    const row = { ...customRow(33), title: 'changed', note: 'now set', meta: { k: -1 }, tags: ['z'], dyn: 'dz' };
    const d = ok(await c.upsert({ collectionName: C, data: [row] }), 'upsert');
    assert.equal(d.upsertCount, 1);
    assert.deepEqual(d.upsertIds, ['33']);
    const got = ok(await c.get({ collectionName: C, id: '33', outputFields: ['*'] }), 'get');
    assert.equal(got.length, 1);
    assertCustomRow(got[0], row, 'upserted row');
    customRows[32] = row;
  }, needC);

  await step(s('custom: delete by a scalar filter'), async () => {
    ok(await c.delete({ collectionName: C, filter: 'i32 > 45000' }), 'delete');
    const n = ok(await c.query(cq({ filter: '', outputFields: ['count(*)'] })), 'count');
    assert.deepEqual(n, [{ 'count(*)': '45' }]);
  }, needC);

  await step(s('custom: a JSON field given as text is stored as the document'), async () => {
    const row = { ...customRow(1000), meta: '{"k": 99, "s": "t"}' };
    ok(await c.insert({ collectionName: C, data: [row] }), 'insert');
    const got = ok(await c.get({ collectionName: C, id: 1000, outputFields: ['meta'] }), 'get');
    assert.deepEqual(jsonValue(got[0].meta), { k: 99, s: 't' });
    const byPath = ok(await c.query(cq({ filter: 'meta["k"] == 99', outputFields: ['pk'] })), 'query path');
    assert.deepEqual(byPath, [{ pk: '1000' }]);
    ok(await c.delete({ collectionName: C, filter: 'pk == 1000' }), 'delete');
  }, needC);

  await step(s('custom: alter_properties / drop_properties show in describe'), async () => {
    ok(await c.alterCollectionProperties({ collectionName: C, properties: { 'mmap.enabled': true } }), 'alter');
    let d = ok(await c.describeCollection({ collectionName: C }), 'describe');
    assert.ok(d.properties.some((p) => p.key === 'mmap.enabled' && p.value === 'true'), `properties ${show(d.properties)}`);
    ok(await c.dropCollectionProperties({ collectionName: C, propertyKeys: ['mmap.enabled'] }), 'drop');
    d = ok(await c.describeCollection({ collectionName: C }), 'describe');
    assert.ok(!d.properties.some((p) => p.key === 'mmap.enabled'), `properties ${show(d.properties)}`);
  }, { needs: ['custom'] });

  await step(s('custom: fields/alter_properties raises max_length'), async () => {
    ok(await c.alterCollectionFieldProperties({ collectionName: C, fieldName: 'title', fieldParams: { max_length: 128 } }), 'alter field');
    const d = ok(await c.describeCollection({ collectionName: C }), 'describe');
    const title = d.fields.find((f) => f.name === 'title');
    assert.ok(title.params.some((p) => p.key === 'max_length' && p.value === '128'), `title params ${show(title.params)}`);
  }, { needs: ['custom'] });

  await step(s('indexes: alter_properties / drop_properties, describe index details'), async () => {
    ok(await c.alterIndexProperties({ collectionName: C, indexName: 'dense_idx', properties: { 'mmap.enabled': true } }), 'alter');
    ok(await c.dropIndexProperties({ collectionName: C, indexName: 'dense_idx', propertyKeys: ['mmap.enabled'] }), 'drop');
    const d = ok(await c.describeIndex({ collectionName: C, indexName: 'dense2_idx' }), 'describe');
    for (const k of ['totalRows', 'indexedRows', 'pendingRows']) assert.equal(typeof d[0][k], 'number', `${k}: ${show(d[0])}`);
    assert.ok(['IndexStateNone', 'Unissued', 'InProgress', 'Finished', 'Failed', 'Retry'].includes(d[0].indexState), `indexState ${d[0].indexState}`);
    assert.equal(typeof d[0].failReason, 'string', 'failReason');
  }, { needs: ['custom'] });

  await step(s('collections: compact and get_compaction_state (SDK sends compactionID)'), async () => {
    const d = ok(await c.compactCollection({ collectionName: C }), 'compact');
    assert.equal(typeof d.compactionID, 'number', `compactionID: ${show(d)}`);
    const st = ok(await c.getCompactionState({ collectionName: C, compactionID: d.compactionID }), 'get_compaction_state');
    assert.ok(['Executing', 'Completed', 'UndefiedState'].includes(st.state), `state: ${show(st)}`);
  }, { needs: ['custom'] });

  await step(s('custom: fields/add a nullable field with a default; old rows read it, new rows set it'), async () => {
    const before = ok(await c.describeCollection({ collectionName: C }), 'describe');
    fails(await c.addCollectionField({ collectionName: C, schema: { fieldName: 'strict', dataType: 'Int32' } }), 1100,
      'a field that is not nullable');
    fails(await c.addCollectionField({ collectionName: C, schema: { fieldName: 'vec3', dataType: 'FloatVector', nullable: true,
      elementTypeParams: { dim: 4 } } }), 1100, 'a vector field');
    assert.deepEqual(ok(await c.describeCollection({ collectionName: C }), 'describe').fields, before.fields);
    const all = ok(await c.query(cq({ filter: '', outputFields: ['count(*)'] })), 'count');
    ok(await c.addCollectionField({ collectionName: C, schema: { fieldName: 'added', dataType: 'Int32', nullable: true,
      defaultValue: 5 } }), 'add field');
    const d = ok(await c.describeCollection({ collectionName: C }), 'describe');
    assert.equal(d.fields.length, before.fields.length + 1);
    const added = d.fields[d.fields.length - 1];
    assert.equal(added.name, 'added');
    assert.equal(added.type, 'Int32');
    assert.equal(added.nullable, true);
    assert.deepEqual(ok(await c.query(cq({ filter: 'added == 5', outputFields: ['count(*)'] })), 'count default'), all);
    ok(await c.insert({ collectionName: C, data: [{ ...customRow(2000), added: 9 }] }), 'insert');
    const got = ok(await c.get({ collectionName: C, id: 2000, outputFields: ['added', 'dyn'] }), 'get');
    assert.equal(got[0].added, 9);
    assert.equal(got[0].dyn, customRow(2000).dyn, `dynamic key after the add: ${show(got)}`);
    const nine = ok(await c.query(cq({ filter: 'added == 9', outputFields: ['pk'] })), 'query new field');
    assert.deepEqual(nine, [{ pk: '2000' }]);
    ok(await c.delete({ collectionName: C, filter: 'pk == 2000' }), 'delete');
  }, { needs: ['custom', 'customdata'] });
}

/* Steps: not loaded until indexed. */
async function unindexedAndLifecycle(t) {
  const { c, Q, N, N2, s } = t;

  await step(s('custom without indexParams: not loaded, search gives 101, index+load fixes it'), async () => {
    ok(await c.createCollection({
      collectionName: N,
      schema: { autoID: true, enableDynamicField: false, fields: [
        { fieldName: 'rid', dataType: 'Int64', isPrimary: true },
        { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
        { fieldName: 'label', dataType: 'VarChar', elementTypeParams: { max_length: 8 } },
      ] },
    }), 'create');
    const d = ok(await c.describeCollection({ collectionName: N }), 'describe');
    assert.equal(d.load, 'LoadStateNotLoad');
    assert.deepEqual(d.indexes, []);
    assert.equal(d.enableDynamicField, false);
    assert.equal(d.autoId, true);
    assert.equal(ok(await c.getCollectionLoadState({ collectionName: N }), 'load state').loadState, 'LoadStateNotLoad');
    assert.deepEqual(ok(await c.listIndexes({ collectionName: N }), 'list indexes'), []);
    const ins = ok(await c.insert({ collectionName: N, data: [1, 2, 3].map((i) => ({ v: vec(i, 4), label: `l${i}` })) }), 'insert');
    assert.equal(ins.insertCount, 3);
    assert.equal(new Set(ins.insertIds).size, 3, 'three auto ids');
    fails(await c.search({ collectionName: N, data: [vec(1, 4)], limit: 1 }), 101, 'search unloaded');
    ok(await c.createIndex({ collectionName: N, indexParams: [{ fieldName: 'v', indexName: 'v', metricType: 'L2', params: { index_type: 'FLAT' } }] }), 'create index');
    ok(await c.loadCollection({ collectionName: N }), 'load');
    await waitLoaded(c, N);
    const hit = ok(await c.search({ collectionName: N, data: [vec(2, 4)], limit: 1, outputFields: ['label'] }), 'search');
    assert.equal(hit[0].label, 'l2');
    assert.ok(ins.insertIds.includes(pkOf(hit[0], 'rid')), `pk ${show(hit[0])} is one of the auto ids`);
    fails(await c.insert({ collectionName: N, data: [{ v: vec(9, 4), label: 'x', other: 1 }] }), 1804, 'extra field without dynamic schema');
  }, { gives: 'nocoll' });

  await step(s('collections: rename'), async () => {
    ok(await c.renameCollection({ collectionName: N, newCollectionName: N2 }), 'rename');
    assert.equal(ok(await c.hasCollection({ collectionName: N }), 'has old').has, false);
    assert.equal(ok(await c.hasCollection({ collectionName: N2 }), 'has new').has, true);
    const n = ok(await c.query({ collectionName: N2, filter: '', outputFields: ['count(*)'] }), 'count');
    assert.deepEqual(n, [{ 'count(*)': '3' }]);
  }, { needs: ['nocoll'] });

  await step(s('collections: flush'), async () => {
    ok(await c.flushCollection({ collectionName: Q }), 'flush');
  }, { needs: ['quick'] });

  await step(s('collections: alter_properties code in {0, 104}'), async () => {
    const res = await c.alterCollectionProperties({ collectionName: Q, properties: { 'collection.ttl.seconds': 3600 } });
    assert.ok([0, 104].includes(res.code), show(res));
  }, { needs: ['quick'] });

  await step(s('collections: refresh_load code in {0, 65535}'), async () => {
    const res = await c.refreshLoad({ collectionName: Q });
    assert.ok([0, 65535].includes(res.code), show(res));
  }, { needs: ['quick'] });
}

/* Steps: other quick setups. */
async function otherQuickSetups(t) {
  const { c, V, A, s } = t;

  await step(s('quick VarChar pk: insert, get by string id, search'), async () => {
    ok(await c.createCollection({ collectionName: V, dimension: 8, metricType: 'L2', idType: 'VarChar', params: { max_length: 32, consistencyLevel: 'Strong', ttlSeconds: 86400 } }), 'create');
    const d = ok(await c.describeCollection({ collectionName: V }), 'describe');
    assert.deepEqual(d.properties, [{ key: 'collection.ttl.seconds', value: '86400' }], 'ttlSeconds becomes a property');
    assert.ok(d.fields[0].params.some((p) => p.key === 'max_length' && p.value === '32'), `pk params ${show(d.fields[0])}`);
    assert.equal(d.fields[0].type, 'VarChar');
    assert.equal(d.indexes[0].metricType, 'L2');
    const rows = ['alpha', 'beta', 'gamma', 'delta'].map((k, i) => ({ id: k, vector: vec(300 + i, 8), rank: i }));
    const ins = ok(await c.insert({ collectionName: V, data: rows }), 'insert');
    assert.deepEqual(ins.insertIds, ['alpha', 'beta', 'gamma', 'delta']);
    const got = ok(await c.get({ collectionName: V, id: 'gamma', outputFields: ['rank'] }), 'get');
    assert.deepEqual(got, [{ id: 'gamma', rank: 2 }]);
    const hit = ok(await c.search({ collectionName: V, data: [vec(301, 8)], limit: 2 }), 'search');
    assert.equal(hit[0].id, 'beta');
    assert.ok(close(hit[0].distance, 0, 1e-6), 'L2 self distance 0');
    const del = ok(await c.query({ collectionName: V, filter: 'id like "%a"', outputFields: ['id'] }), 'query like');
    assert.deepEqual(del.map((r) => r.id).sort(), ['alpha', 'beta', 'delta', 'gamma']);
    const up = ok(await c.upsert({ collectionName: V, data: [{ id: 'beta', vector: vec(310, 8), rank: 10 }, { id: 'eps', vector: vec(311, 8), rank: 11 }] }), 'upsert');
    assert.equal(up.upsertCount, 2);
    assert.deepEqual([...up.upsertIds].sort(), ['beta', 'eps']);
    const after = ok(await c.query({ collectionName: V, filter: 'rank >= 10', outputFields: ['rank'] }), 'query');
    assert.deepEqual(after.sort((a, b) => a.rank - b.rank), [{ id: 'beta', rank: 10 }, { id: 'eps', rank: 11 }]);
  }, { gives: 'varchar' });

  await step(s('quick autoID: insert without pks gets distinct ids'), async () => {
    ok(await c.createCollection({ collectionName: A, dimension: 4, autoID: true, params: { consistencyLevel: 'Strong' } }), 'create');
    assert.equal(ok(await c.describeCollection({ collectionName: A }), 'describe').autoId, true);
    const ins = ok(await c.insert({ collectionName: A, data: [1, 2, 3, 4, 5].map((i) => ({ vector: vec(i, 4) })) }), 'insert');
    assert.equal(ins.insertCount, 5);
    assert.equal(new Set(ins.insertIds).size, 5);
    for (const id of ins.insertIds) assert.equal(typeof id, 'string', 'Int64 auto ids are strings');
    const got = ok(await c.get({ collectionName: A, id: ins.insertIds[2], outputFields: ['vector'] }), 'get');
    assertVecEqual(got[0].vector, vec(3, 4), 'auto id row');
    fails(await c.insert({ collectionName: A, data: [{ id: 1, vector: vec(9, 4) }] }), 1804, 'pk given while autoID');
  });
}

/* Steps: aliases. */
async function aliases(t) {
  const { c, Q, C, ALIAS, s } = t;

  await step(s('aliases: create, list, describe, use in requests'), async () => {
    ok(await c.createAlias({ collectionName: Q, aliasName: ALIAS }), 'create');
    const list = ok(await c.listAliases({ collectionName: Q }), 'list');
    assert.ok(Array.isArray(list) && list.includes(ALIAS), `list ${show(list)}`);
    const all = ok(await c.listAliases({}), 'list without collection');
    assert.ok(all.includes(ALIAS), `list all ${show(all)}`);
    const d = ok(await c.describeAlias({ aliasName: ALIAS }), 'describe');
    assert.equal(d.aliasName, ALIAS);
    assert.equal(d.collectionName, Q);
    assert.equal(d.dbName, 'default');
    assert.deepEqual(ok(await c.describeCollection({ collectionName: Q }), 'describe collection').aliases, [ALIAS]);
    const got = ok(await c.query({ collectionName: ALIAS, filter: 'id == 10', outputFields: ['color'] }), 'query through alias');
    assert.deepEqual(got, [{ id: '10', color: quickRow(10).color }]);
    fails(await c.createAlias({ collectionName: C, aliasName: ALIAS }), [1602, 1601, 65535, 1100], 'alias twice');
  }, { needs: ['quick'], gives: 'alias' });

  await step(s('aliases: alter to another collection, drop'), async () => {
    ok(await c.alterAlias({ collectionName: C, aliasName: ALIAS }), 'alter');
    assert.equal(ok(await c.describeAlias({ aliasName: ALIAS }), 'describe').collectionName, C);
    const got = ok(await c.get({ collectionName: ALIAS, id: 2, outputFields: ['title'] }), 'get through alias');
    assert.deepEqual(got, [{ pk: '2', title: 'title-2' }]);
    ok(await c.dropAlias({ aliasName: ALIAS }), 'drop');
    const list = ok(await c.listAliases({ collectionName: C }), 'list');
    assert.ok(!list.includes(ALIAS), `still listed: ${show(list)}`);
    fails(await c.describeAlias({ aliasName: ALIAS }), [1600, 65535, 100], 'describe dropped alias');
  }, { needs: ['quick', 'alias', 'custom', 'customdata'] });
}

/* Steps: databases. */
async function databases(t) {
  const { cfg, c, Q, DB, s } = t;

  await step(s('databases: create, list, describe'), async () => {
    ok(await c.createDatabase({ dbName: DB }), 'create');
    const list = ok(await c.listDatabases(), 'list');
    assert.ok(list.includes('default') && list.includes(DB), `list ${show(list)}`);
    const d = ok(await c.describeDatabase({ dbName: DB }), 'describe');
    assert.equal(d.dbName, DB);
    assert.equal(typeof d.dbID, 'number', `dbID: ${show(d)}`);
    assert.ok(Array.isArray(d.properties), 'properties');
  }, { gives: 'db' });

  await step(s('databases: a client with database= works inside it, isolated from default'), async () => {
    const cdb = new HttpClient({ ...cfg, database: DB });
    ok(await cdb.createCollection({ collectionName: Q, dimension: 4, params: { consistencyLevel: 'Strong' } }), 'create same name in db');
    // listCollections() with no argument sends dbName "default" whatever the
    // client's database (the SDK's default parameter), so pass {}.
    assert.deepEqual(ok(await cdb.listCollections({}), 'list in db'), [Q]);
    ok(await cdb.insert({ collectionName: Q, data: [{ id: 1, vector: vec(77, 4) }] }), 'insert in db');
    const got = ok(await cdb.query({ collectionName: Q, filter: '', outputFields: ['count(*)'] }), 'count in db');
    assert.deepEqual(got, [{ 'count(*)': '1' }]);
    const viaBody = ok(await c.query({ dbName: DB, collectionName: Q, filter: 'id == 1', outputFields: ['vector'] }), 'dbName in body');
    assertVecEqual(viaBody[0].vector, vec(77, 4), 'db row');
    const def = ok(await c.query({ collectionName: Q, filter: '', outputFields: ['count(*)'] }), 'count in default');
    assert.notDeepEqual(def, got, 'default database has its own collection');
    fails(await c.describeCollection({ dbName: `${DB}_missing`, collectionName: Q }), 800, 'missing database');
    ok(await cdb.dropCollection({ collectionName: Q }), 'drop in db');
  }, { needs: ['db', 'quick'] });

  await step(s('databases: alter and drop_properties'), async () => {
    ok(await c.alterDatabaseProperties({ dbName: DB, properties: { 'database.max.collections': 10 } }), 'alter');
    let d = ok(await c.describeDatabase({ dbName: DB }), 'describe');
    assert.ok(d.properties.some((p) => p.key === 'database.max.collections' && p.value === '10'), `properties ${show(d.properties)}`);
    ok(await c.dropDatabaseProperties({ dbName: DB, propertyKeys: ['database.max.collections'] }), 'drop_properties');
    d = ok(await c.describeDatabase({ dbName: DB }), 'describe');
    assert.ok(!d.properties.some((p) => p.key === 'database.max.collections'), `properties ${show(d.properties)}`);
  }, { needs: ['db'] });

  await step(s('databases: drop'), async () => {
    ok(await c.dropDatabase({ dbName: DB }), 'drop');
    const list = ok(await c.listDatabases(), 'list');
    assert.ok(!list.includes(DB), `still listed: ${show(list)}`);
  }, { needs: ['db'] });
}

/* Steps: errors the SDK sees. */
async function errors(t) {
  const { cfg, c, Q, V, s } = t;

  await step(s('errors: missing collection gives code 100 with HTTP 200'), async () => {
    fails(await c.describeCollection({ collectionName: `${Q}_missing` }), 100, 'describe');
    fails(await c.getCollectionLoadState({ collectionName: `${Q}_missing` }), 100, 'get_load_state');
    fails(await c.query({ collectionName: `${Q}_missing`, filter: '' }), 100, 'query');
  });

  await step(s('errors: bad vector, bad row, bad filter'), async () => {
    fails(await c.search({ collectionName: Q, data: [[1, 2, 3]], limit: 1 }), 1801, 'search wrong dim');
    fails(await c.insert({ collectionName: Q, data: [{ id: 5000, vector: [1, 2, 3] }] }), 1804, 'insert wrong dim');
    fails(await c.insert({ collectionName: Q, data: [{ vector: vec(1, 4) }] }), 1804, 'insert without pk');
    fails(await c.query({ collectionName: Q, filter: 'id >>> 3' }), 1100, 'query bad filter');
    fails(await c.createCollection({ collectionName: `${Q}_bad`, dimension: 4, idType: 'Float' }), 1100, 'bad idType');
  }, { needs: ['quick'] });

  await step(s('errors: partitions, empty insert, idempotent drops'), async () => {
    fails(await c.insert({ collectionName: V, partitionName: 'nope', data: [{ id: 'x', vector: vec(1, 8) }] }), 200, 'insert into a missing partition');
    fails(await c.hasPartition({ collectionName: `${V}_missing`, partitionName: '_default' }), 100, 'has partition of a missing collection');
    const empty = await c.insert({ collectionName: V, data: [] });
    assert.notEqual(empty.code, 0, `an empty insert is an error: ${show(empty)}`);
    ok(await c.dropPartition({ collectionName: V, partitionName: 'never_created' }), 'drop a missing partition');
    ok(await c.releaseCollection({ collectionName: V }), 'release');
    ok(await c.dropIndex({ collectionName: V, indexName: 'never_created' }), 'drop a missing index');
    ok(await c.loadCollection({ collectionName: V }), 'load');
    await waitLoaded(c, V);
  }, { needs: ['varchar'] });

  await step(s('auth: a Bearer user:password token is ignored when auth is off'), async () => {
    const up = new HttpClient({ ...cfg, username: 'root', password: 'Milvus' });
    assert.ok(ok(await up.listCollections(), 'list').includes(Q));
    const k = new HttpClient({ ...cfg, token: 'some-api-key' });
    ok(await k.hasCollection({ collectionName: Q }), 'has');
  }, { needs: ['quick'] });

  await step(s('errors: unknown path throws HttpError 404'), async () => {
    await assert.rejects(c.POST('/vectordb/collections/no_such_action', {}), (e) => e instanceof HttpError && e.status === 404);
  });
}

/* Steps: drop. */
async function dropAll(t) {
  const { c, Q, C, N2, V, A, s } = t;

  await step(s('collections: drop all, has is false, drop again is code 0'), async () => {
    for (const name of [Q, C, N2, V, A]) {
      ok(await c.dropCollection({ collectionName: name }), `drop ${name}`);
      assert.equal(ok(await c.hasCollection({ collectionName: name }), 'has').has, false);
    }
    ok(await c.dropCollection({ collectionName: Q }), 'drop missing');
    const list = ok(await c.listCollections(), 'list');
    for (const name of [Q, C, N2, V, A]) assert.ok(!list.includes(name), `${name} still listed`);
  });
}

async function session(cfg, tag) {
  const t = sessionContext(cfg, tag);
  await quickSetup(t);
  await quickReads(t);
  await quickSearch(t);
  await quickWrites(t);
  await indexes(t);
  await partitions(t);
  await customSchema(t);
  await customReads(t);
  await customSearch(t);
  await customWrites(t);
  await unindexedAndLifecycle(t);
  await otherQuickSetups(t);
  await aliases(t);
  await databases(t);
  await errors(t);
  await dropAll(t);
}

// ---------------------------------------------------------------- main

function tracingFetch() {
  return async (url, init) => {
    console.error(`>> POST ${url} ${JSON.stringify(init.headers)}\n>> ${init.body}`);
    const res = await fetch(url, init);
    const text = await res.clone().text();
    console.error(`<< ${res.status} ${text.slice(0, 2000)}`);
    return res;
  };
}

/* The installed SDK must be the version package.json pins (a stale
 * node_modules would test another client). */
function checkInstalledVersion() {
  const pinned = require('./package.json').dependencies['@zilliz/milvus2-sdk-node'];
  const installed = require('@zilliz/milvus2-sdk-node/package.json').version;
  if (installed !== pinned) {
    console.log(`not ok - setup: installed @zilliz/milvus2-sdk-node ${installed}, package.json pins ${pinned}; run \`npm ci --prefix tests/compat\``);
    process.exit(1);
  }
  console.log(`# @zilliz/milvus2-sdk-node ${installed} against ${BASE}`);
}

async function main() {
  if (!/^https?:\/\//.test(BASE)) {
    console.error('usage: node compat.js http://HOST:PORT   (or VS_URL=http://HOST:PORT)');
    process.exit(2);
  }
  checkInstalledVersion();
  const timer = setTimeout(() => {
    console.log(`not ok - deadline: the session did not finish in ${DEADLINE_MS} ms`);
    console.log(`${tally.passed} passed, ${tally.failed + 1} failed`);
    process.exit(1);
  }, DEADLINE_MS);
  const extra = TRACE ? { fetch: tracingFetch() } : {};
  // {endpoint} calls BASE/v2/vectordb/..., {baseURL} calls BASE/vectordb/...
  await session({ endpoint: BASE, ...extra }, 'endpoint');
  broken.clear();
  await session({ baseURL: BASE, ...extra }, 'baseurl');
  clearTimeout(timer);
  console.log(`${tally.passed} passed, ${tally.failed} failed`);
  process.exit(tally.failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok - harness: ${errorText(e)}`);
  process.exit(1);
});
