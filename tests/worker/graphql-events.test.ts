import { gql } from 'graphql-request';
import { describe, expect, it } from 'vitest';
import { createTenant, newRequestId, roundTrips } from '../support/harness.ts';
import { insertEvent, insertTicketType } from '../support/events.ts';
import { graphqlClient, type GraphqlError } from '../support/graphql.ts';
import { memberWithToken } from '../support/users.ts';

const EVENTS_WITH_TICKETS = gql`
  query Events($first: Int) {
    events(first: $first) {
      nodes {
        id
        title
        ticketTypes {
          id
          name
          remaining
        }
        capacityPools {
          id
        }
        availability {
          sold
          remaining
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

interface EventsData {
  events: {
    nodes: {
      id: string;
      title: string;
      ticketTypes: { id: string; name: string; remaining: number }[];
      capacityPools: { id: string }[];
      availability: { sold: number; remaining: number };
    }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

describe('GraphQL events', () => {
  it('lists events with their ticket types in one database round trip per level', async () => {
    const tenant = await createTenant();
    const { token } = await memberWithToken(tenant, 'organizer');
    for (let index = 0; index < 5; index += 1) {
      const event = await insertEvent(tenant);
      await insertTicketType(tenant, event.id, { quantity: 10, sold: index });
    }
    // A first request warms this isolate's tenant cache (host resolution is not part of the budget).
    await graphqlClient(tenant, token).rawRequest(EVENTS_WITH_TICKETS, { first: 1 });
    const requestId = newRequestId();
    const result = await graphqlClient(tenant, token, { 'x-request-id': requestId }).rawRequest<EventsData>(
      EVENTS_WITH_TICKETS,
      { first: 50 },
    );
    expect((result as { errors?: GraphqlError[] }).errors).toBeUndefined();
    expect(result.data.events.nodes).toHaveLength(5);
    expect(result.data.events.nodes.map((event) => event.availability.remaining).sort()).toEqual([10, 6, 7, 8, 9]);
    expect(await roundTrips(requestId)).toEqual({ database: 2, redis: 1 });
  });
});
