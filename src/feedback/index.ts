export { extractCode, submissionFromResponse } from './extract.js';
export {
  renderFeedback,
  MESSAGE_CHAR_LIMIT,
  INPUT_CHAR_LIMIT,
  INPUT_LINE_LIMIT,
  OUTPUT_CHAR_LIMIT,
  truncateInput,
  truncateOutput,
  truncateMessage,
  type FeedbackInput,
  type FailingCase,
  type ExceptionReport,
  type FailureKind,
} from './render.js';
