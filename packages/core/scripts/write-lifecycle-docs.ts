import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderLifecycleDocument } from '../src/lifecycle/document.ts';

const target = fileURLToPath(new URL('../../../docs/lifecycle.md', import.meta.url));
writeFileSync(target, renderLifecycleDocument());
console.log(`wrote ${target}`);
