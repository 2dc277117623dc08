// Verify Data Integrity (eddsa-jcs-2022) credentials with Digital Bazaar's published libraries,
// fully offline. Used by tests/interop/test_external_vc_verifier.py; none of this is our code.
//
// stdin:  {"items": [{"credential": {...}, "mode": "credential" | "proof", "now": "<date>"}]}
// stdout: [{"verified": bool, "errors": [string, ...]}]  (one per item, in order)
//
// mode "credential": @digitalbazaar/vc verifyCredential, i.e. the VC data model checks
//   (contexts, types, issuer, validFrom/validUntil against "now") and the proof, whose
//   verification method must be controlled by the credential's issuer (assertionMethod).
//   credentialStatus is NOT fetched (offline): its checkStatus callback reports it unchecked.
// mode "proof": jsonld-signatures verify with an AssertionProofPurpose only, for documents
//   whose issuer is not the signing key's DID (the W3C test vector).
import {readFileSync} from 'node:fs';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {securityLoader} from '@digitalbazaar/security-document-loader';
import * as vc from '@digitalbazaar/vc';
import jsigs from 'jsonld-signatures';

const loader = securityLoader();
// The bundled documents (credentials v1/v2, DID and key contexts) and did:key resolution only:
// any other URL is an error, never a fetch. eddsa-jcs-2022 loads none of the document's contexts.
const documentLoader = loader.build();

function messages(result) {
  const out = [];
  const visit = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(visit);
      return;
    }
    out.push(String(e.message || e));
    if(e.errors) {
      visit(e.errors);
    }
  };
  visit(result.error);
  for(const r of result.results || []) {
    visit(r.error);
  }
  return out;
}

async function verifyOne({credential, mode, now}) {
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  try {
    const result = mode === 'proof' ?
      await jsigs.verify(credential, {
        suite, documentLoader,
        purpose: new jsigs.purposes.AssertionProofPurpose({date: now})
      }) :
      await vc.verifyCredential({
        credential, suite, documentLoader, now: new Date(now),
        checkStatus: async () => ({verified: true, unchecked: true})
      });
    return {verified: result.verified === true, errors: messages(result)};
  } catch(e) {
    return {verified: false, errors: [String(e && e.message || e)]};
  }
}

const {items} = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for(const item of items) {
  results.push(await verifyOne(item));
}
process.stdout.write(JSON.stringify(results) + '\n');
