/** The PI tally lives with the pure models in pi-model/ (issue 11); what the instance app reads of it, from here. */
export { PI_MODEL_VERSION } from '../pi-model/pi.tally.ts';
