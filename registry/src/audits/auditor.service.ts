/**
 * Auditors moved into labels/, with the rest of the labelling process (issue 11). This path stays for the instance
 * CLI's federation supervisor, left untouched here.
 */
export { AuditorService } from '../labels/auditor.service.ts';
