import type { Config } from '../../../config/schema.js';
import { principalOf } from '../../auth.js';
import type { NativeApp } from '../../native/types.js';
import type { SurfaceContext } from '../../surfaces.js';

const tags = ['zeebee'];
/** Features the document names; a deployment's tiers may name more, and those are listed too. */
const KNOWN_FEATURES = ['voice_chat', 'semantic_search', 'multi_agent'];

/** What the service is and offers the caller: health, the models and the features of their tier. */
export function serviceRoutes(app: NativeApp, { core, config, version }: SurfaceContext): void {
  app.get(
    '/health',
    { config: { auth: 'none', quota: false }, schema: { tags, summary: 'Whether the service is up' } },
    async () => ({ status: 'ok', service: config.service.name, version }),
  );

  app.get('/models', { schema: { tags, summary: 'The models your tier may use' } }, async (request) => {
    const models = await core.completions.models(principalOf(request).user);
    return {
      models: models
        .filter((m) => !m.capabilities.embeddings)
        .map((m) => ({
          id: m.id,
          name: m.id,
          display_name: m.displayName,
          provider: m.provider,
          max_tokens: m.maxTokens,
          context_length: m.contextLength,
        })),
    };
  });

  app.get(
    '/available_features',
    { schema: { tags, summary: "The features of your subscription tier, and whether they're enabled" } },
    async (request) => {
      const enabled = new Set(config.tiers[principalOf(request).user.tier].features);
      return { features: featureNames(config).map((name) => ({ id: name, name, enabled: enabled.has(name) })) };
    },
  );
}

function featureNames(config: Config): string[] {
  return [...new Set([...KNOWN_FEATURES, ...Object.values(config.tiers).flatMap((tier) => tier.features)])];
}
