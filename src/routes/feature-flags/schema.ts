import { z } from '@hono/zod-openapi';
import { FLAG_KEY, MAX_FEATURE_FLAGS } from '../../services/flags/evaluate.ts';
import { int32, Timestamp } from '../fields.ts';

const EXAMPLE_KEY = 'new_checkout';

const FlagKey = z
  .string()
  .min(3)
  .max(64)
  .regex(FLAG_KEY, 'Must be snake_case: a lowercase letter, then lowercase letters, digits or _, 3 to 64 characters.')
  .openapi({ description: 'The flag key (snake_case, 3 to 64 characters).', example: EXAMPLE_KEY });

export const FeatureFlagKeyParamsSchema = z.object({
  key: FlagKey.openapi({ param: { name: 'key', in: 'path' }, description: 'The flag key.', example: EXAMPLE_KEY }),
});

const Description = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .openapi({ description: 'What the flag switches, shown to tenants.', example: 'The new one-page checkout.' });

const DefaultValue = z.boolean().openapi({
  description: 'The value for a plan the flag does not name, without override or rollout.',
  example: false,
});

const PlanValues = z
  .object({
    starter: z.boolean().optional().openapi({ description: 'The value on the starter plan.', example: false }),
    pro: z.boolean().optional().openapi({ description: 'The value on the pro plan.', example: true }),
    enterprise: z.boolean().optional().openapi({ description: 'The value on the enterprise plan.', example: true }),
  })
  .strict()
  .openapi('FeatureFlagPlanValues', {
    description: 'The value per plan; a plan left out gets the default.',
    example: { pro: true, enterprise: true },
  });

const RolloutPercentage = int32(0, 100)
  .nullable()
  .openapi({
    description:
      'Rolls the flag out to this percentage of organizations (0 to 100), chosen by a hash of the flag key and the ' +
      'organization id: an organization in at 30 stays in at 60. While set it decides the value (in: true, out: ' +
      'false) over the plan values and the default; an organization override still wins. null: no rollout.',
    example: 30,
  });

export const FeatureFlagCreateSchema = z
  .object({
    key: FlagKey,
    description: Description,
    defaultValue: DefaultValue.default(false),
    planValues: PlanValues.default({}),
    rolloutPercentage: RolloutPercentage.default(null),
  })
  .strict()
  .openapi('FeatureFlagCreate', {
    description: 'A new feature flag.',
    example: {
      key: EXAMPLE_KEY,
      description: 'The new one-page checkout.',
      defaultValue: false,
      planValues: { enterprise: true },
      rolloutPercentage: 30,
    },
  });

export const FeatureFlagUpdateSchema = z
  .object({
    description: Description.optional(),
    defaultValue: DefaultValue.optional(),
    planValues: PlanValues.optional().openapi({ description: 'Replaces the plan values.' }),
    rolloutPercentage: RolloutPercentage.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, 'Give at least one field to change.')
  .openapi('FeatureFlagUpdate', {
    description: 'The fields to change; the others stay.',
    example: {
      description: 'The new one-page checkout.',
      defaultValue: false,
      planValues: { pro: true },
      rolloutPercentage: 60,
    },
  });

export const FeatureFlagSchema = z
  .object({
    key: z.string().max(64).openapi({ description: 'The flag key.', example: EXAMPLE_KEY }),
    description: z.string().max(500).openapi({ description: 'What the flag switches.', example: 'The new checkout.' }),
    defaultValue: z.boolean().openapi({ description: 'The default value.', example: false }),
    planValues: PlanValues,
    rolloutPercentage: int32(0, 100)
      .nullable()
      .openapi({ description: 'The rollout percentage; null: none.', example: 30 }),
    builtIn: z.boolean().openapi({
      description:
        'A plan feature the API checks (webhooks, custom_domains, sso, custom_roles, exports): never deleted.',
      example: false,
    }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('FeatureFlag', { description: 'A feature flag definition.' });

export const FeatureFlagListSchema = z
  .object({
    items: z
      .array(FeatureFlagSchema)
      .max(MAX_FEATURE_FLAGS)
      .openapi({ description: `Every flag, by key (at most ${String(MAX_FEATURE_FLAGS)}).` }),
  })
  .openapi('FeatureFlagList');

export type FeatureFlagResponse = z.infer<typeof FeatureFlagSchema>;
export type FeatureFlagListResponse = z.infer<typeof FeatureFlagListSchema>;

/** What every operation of the group says about caching and evaluation. */
export const FLAG_NOTE =
  " An organization's value: its override (`PUT /api/v1/organizations/{id}/plan-overrides`, `features`), else the " +
  "rollout when set, else its plan's value, else the default. Changes take effect at once in the location that " +
  'made them and everywhere within 60 seconds (flag definitions are cached per isolate). Platform host and platform ' +
  'administrators only (404 on an organization host, 401 without a platform token, 403 for other platform users).';
