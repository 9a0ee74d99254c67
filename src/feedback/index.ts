export { extractCode, submissionFromResponse } from './extract.js';
export {
  renderFeedback,
  truncateInput,
  truncateOutput,
  truncateMessage,
  type FeedbackInput,
  type FailingCase,
  type ExceptionReport,
  type FailureKind,
} from './render.js';
