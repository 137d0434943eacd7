// The contract test's validator refuses what the document does not describe: an undocumented
// field, a wrong type, a problem whose status the response does not pin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OPENAPI_DOCUMENT as doc } from '../../src/api/openapi.ts';
import { ContractValidator, type Schema } from '../helpers/contract-validator.ts';

const contract = new ContractValidator(doc);
const problemOf = (status: number) =>
  doc.components.responses[status === 404 ? 'JobNotFound' : 'Forbidden'];

describe('the contract validator', () => {
  const problem = {
    type: 'urn:jobworker:problem:job-not-found',
    title: 'Not Found',
    status: 404,
    detail: "no job with id 'x'",
    instance: '/v1/jobs/x',
    code: 'JOB_NOT_FOUND',
    requestId: '7a3f1c2e-1111-4222-8333-444455556666',
  };
  const schemaOf = (status: number): Schema => {
    const response = problemOf(status) as { content: Record<string, { schema: Schema }> };
    return response.content['application/problem+json']?.schema ?? {};
  };

  it('accepts a documented problem', () => {
    assert.deepEqual(contract.validate(schemaOf(404), problem), []);
  });

  it('refuses a field the document does not describe, and a status it does not pin', () => {
    assert.notDeepEqual(contract.validate(schemaOf(404), { ...problem, stack: 'at x' }), []);
    assert.notDeepEqual(contract.validate(schemaOf(403), problem), []);
    assert.notDeepEqual(contract.validate(schemaOf(404), { ...problem, status: '404' }), []);
  });
});
