import type { User } from '../../../core/accounts/model.js';
import type { Bot } from '../../../core/bots/model.js';
import { NotFound } from '../../../core/errors.js';
import type { Core } from '../../../core/index.js';
import { principalOf } from '../../auth.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';
import { ConversationParams, TemplateParams, TemplateSwitchBody } from './schemas.js';
import { templateSummary } from './views.js';

const tags = ['zeebee'];

/** Templates are the bots the caller may use; a conversation follows one. */
export function templateRoutes(app: NativeApp, { core }: SurfaceContext): void {
  app.get('/templates', { schema: { tags, summary: 'The system prompt templates you may use' } }, async (request) => ({
    templates: (await core.bots.list(principalOf(request).user)).map(templateSummary),
  }));

  app.get(
    '/template/:template_name',
    { schema: { tags, summary: 'One template, with its system prompt and variables', params: TemplateParams } },
    async (request) => {
      const bot = await templateBot(core, principalOf(request).user, request.params.template_name);
      return {
        ...templateSummary(bot),
        system_prompt: bot.systemPrompt,
        variables: bot.variables.map((v) => v.name),
        example_usage: exampleUsage(bot),
      };
    },
  );

  app.post(
    '/conversation/:conversation_id/template',
    {
      schema: {
        tags,
        summary: "Switch a conversation to another template, with values for the template's variables",
        params: ConversationParams,
        body: TemplateSwitchBody,
      },
    },
    async (request) => {
      const { user } = principalOf(request);
      const { template_name, variables } = request.body;
      const bot = await templateBot(core, user, template_name);
      // The template's prompt replaces any the conversation was given of its own.
      const conversation = await core.conversations.update(user, request.params.conversation_id, {
        botId: bot.id,
        variables: variables ?? {},
        systemPrompt: null,
      });
      return { status: 'success', conversation_id: conversation.id, template: bot.name };
    },
  );
}

/** The bot a template name stands for, among those the user may use. */
export async function templateBot(core: Core, user: User, name: string): Promise<Bot> {
  try {
    return await core.bots.get(user, name);
  } catch (err) {
    throw err instanceof NotFound ? new NotFound('Template') : err;
  }
}

function exampleUsage(bot: Bot): string {
  if (bot.variables.length === 0) return 'This template has no variables to set.';
  const example = Object.fromEntries(bot.variables.map((v) => [v.name, v.description || v.default || '…']));
  return `You can set its variables like ${JSON.stringify(example)}`;
}
