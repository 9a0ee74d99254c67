/**
 * Chat messages → prompt tokens through the model's OWN chat template (its
 * tokenizer.chat_template, rendered by node-llama-cpp's Jinja engine), ending with the
 * assistant generation prefix. Thinking is switched off for templates that have the switch
 * (Qwen3's enable_thinking=false renders an empty <think></think> block).
 */
import { JinjaTemplateChatWrapper, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp';
import type { ChatMessage } from './types.js';

export class ChatTemplate {
  private constructor(
    private readonly model: LlamaModel,
    private readonly wrapper: ChatWrapper,
    /** True when the model's own Jinja template is used (false: node-llama-cpp's guess). */
    readonly fromModel: boolean,
  ) {}

  static for(model: LlamaModel): ChatTemplate {
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    if (typeof template === 'string' && template.length > 0) {
      const wrapper = new JinjaTemplateChatWrapper({
        template,
        additionalRenderParameters: { enable_thinking: false },
        tokenizer: model.tokenizer,
      });
      return new ChatTemplate(model, wrapper, true);
    }
    // No template in the file: the best node-llama-cpp can infer from the architecture/tokens.
    return new ChatTemplate(model, resolveChatWrapper(model) ?? new JinjaTemplateChatWrapper({ template: CHATML }), false);
  }

  /** Token ids of the rendered messages followed by the assistant's generation prefix. */
  render(messages: ChatMessage[]): Token[] {
    const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
      if (m.role === 'system') return { type: 'system', text: m.content };
      if (m.role === 'user') return { type: 'user', text: m.content };
      return { type: 'model', response: [m.content] };
    });
    history.push({ type: 'model', response: [] });
    const { contextText } = this.wrapper.generateContextState({ chatHistory: history });
    return contextText.tokenize(this.model.tokenizer);
  }
}

const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
