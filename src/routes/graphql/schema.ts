import { builder } from './builder.ts';
// Each module adds its types and fields to the builder; the schema is built once they all have.
import './events.ts';
import './bookings.ts';
import './attendees.ts';
import './organization.ts';
import './mutations.ts';

/** The GraphQL schema (its SDL is committed as schema.graphql; `npm run graphql:check` proves it current). */
export const graphqlSchema = builder.toSchema({ sortSchema: false });
