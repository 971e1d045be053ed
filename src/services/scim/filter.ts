import { scimRefusal } from './resources.ts';

/*
 * The SCIM filters identity providers send to find a resource before they create or change it (RFC 7644 3.4.2.2):
 * one attribute compared with `eq` to a string. Okta and Entra ID match users on `userName eq "..."` (Entra ID also
 * on `externalId` and the work email), groups on `displayName eq "..."`. Anything else is refused as `invalidFilter`
 * rather than answered with a list the IdP would misread as "no such user".
 *
 * Hand-written: the grammar accepted is this one comparison, and SCIM filter libraries on npm parse the whole
 * grammar into trees this API would still have to refuse most of.
 */

export type UserFilterAttribute = 'userName' | 'externalId' | 'email';
export type GroupFilterAttribute = 'displayName';

export interface Filter<A extends string> {
  attribute: A;
  value: string;
}

const COMPARISON = /^\s*([A-Za-z][\w.:[\]" ]*?)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

const USER_ATTRIBUTES: Record<string, UserFilterAttribute> = {
  username: 'userName',
  externalid: 'externalId',
  'emails.value': 'email',
  'emails[type eq "work"].value': 'email',
  emails: 'email',
};

const GROUP_ATTRIBUTES: Record<string, GroupFilterAttribute> = { displayname: 'displayName' };

function parse<A extends string>(filter: string, attributes: Record<string, A>): Filter<A> {
  const match = COMPARISON.exec(filter);
  // Attribute names are case-insensitive (RFC 7643 2.1); so is `eq`. The schema URN may prefix the name.
  const name = match?.[1]
    ?.replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, '')
    .replace(/\s+/g, ' ')
    .toLowerCase();
  const attribute = name === undefined ? undefined : attributes[name];
  if (match === null || attribute === undefined) {
    throw scimRefusal(
      'invalidFilter',
      `Unsupported filter: use ${Object.values(attributes)
        .filter((value, index, all) => all.indexOf(value) === index)
        .map((value) => `${value === 'email' ? 'emails.value' : value} eq "..."`)
        .join(' or ')}.`,
    );
  }
  const value = (match[2] ?? '').replace(/\\(.)/g, '$1');
  return { attribute, value };
}

export function parseUserFilter(filter: string): Filter<UserFilterAttribute> {
  return parse(filter, USER_ATTRIBUTES);
}

export function parseGroupFilter(filter: string): Filter<GroupFilterAttribute> {
  return parse(filter, GROUP_ATTRIBUTES);
}
