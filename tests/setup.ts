import pino from 'pino';
import { setRootLogger } from '../src/log.ts';

// Tests log nothing unless asked (TEST_LOG_LEVEL=debug npm test).
setRootLogger(pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }));
