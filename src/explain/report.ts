/** The report's types live in the contract (src/contract/report.ts); this module re-exports them for the producers. */
export * from '../contract/report.js';
