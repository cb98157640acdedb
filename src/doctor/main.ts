// `npm run doctor`: loads .env like `npm start`, runs the checks (./doctor.ts), exits 0 when all pass, 1 otherwise.
import dotenv from 'dotenv';
import { rootLogger } from '../log.ts';
import { runDoctor } from './doctor.ts';

dotenv.config({ quiet: true });
// The doctor speaks in its own lines; the gateway's logs would bury them (LOG_LEVEL=debug shows them anyway).
const level = process.env.LOG_LEVEL;
rootLogger().level = level === 'debug' || level === 'trace' ? level : 'silent';
const result = await runDoctor({ env: process.env });
process.exit(result.ok ? 0 : 1);
