// The oracle of tests/test_validation.py: for each input line {"schema": <OpenAPI schema>, "value": ...} print the
// issues zod 4.3.6 (upstream's validator) raises, with the schema built as upstream builds its DTOs
// (server/src/validation.ts: z.uuidv4, toEmail, isoDatetimeToDate, isoDateToDate; z.int for integers).
import readline from 'node:readline';
import z from 'zod';

const SAFE = 9007199254740991;
const toEmail = z.email({ pattern: z.regexes.html5Email, error: (iss) => `Invalid input: expected email, received ${typeof iss.input}` });
const isoDatetime = z.iso.datetime({ error: (iss) => `Invalid input: expected ISO 8601 datetime string, received ${typeof iss.input}`, offset: true });
const isoDate = z.iso.date({ error: (iss) => `Invalid input: expected ISO date string (YYYY-MM-DD), received ${typeof iss.input}` });

function build(s) {
  let out;
  if (s.enum) out = z.enum(s.enum);
  else if (s.type === 'object') {
    const shape = {};
    for (const [k, v] of Object.entries(s.properties ?? {})) {
      shape[k] = (s.required ?? []).includes(k) ? build(v) : build(v).optional();
    }
    out = z.object(shape);
  } else if (s.type === 'array') {
    out = z.array(build(s.items ?? {}));
    if (s.minItems !== undefined) out = out.min(s.minItems);
    if (s.maxItems !== undefined) out = out.max(s.maxItems);
  } else if (s.type === 'string') {
    if (s.format === 'uuid') out = z.uuidv4();
    else if (s.format === 'email') out = toEmail;
    else if (s.format === 'date-time') out = isoDatetime;
    else if (s.format === 'date') out = isoDate;
    else {
      out = z.string();
      if (s.minLength !== undefined) out = out.min(s.minLength);
      if (s.maxLength !== undefined) out = out.max(s.maxLength);
      if (s.pattern !== undefined) out = out.regex(new RegExp(s.pattern));
    }
  } else if (s.type === 'integer') {
    out = z.int();
    if (s.minimum !== undefined && s.minimum !== -SAFE) out = out.min(s.minimum);
    if (s.maximum !== undefined && s.maximum !== SAFE) out = out.max(s.maximum);
  } else if (s.type === 'number') {
    out = z.number();
    if (s.minimum !== undefined) out = out.min(s.minimum);
    if (s.maximum !== undefined) out = out.max(s.maximum);
  } else if (s.type === 'boolean') out = z.boolean();
  else out = z.any();
  return s.nullable ? out.nullable() : out;
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const { schema, value } = JSON.parse(line);
  const r = build(schema).safeParse(value === '__undefined__' ? undefined : value);
  console.log(JSON.stringify(r.success ? [] : r.error.issues));
}
