import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InteractionsService } from '../nest/interactions.service';
import { DemoContacts } from './contacts';

export const SAMPLE_DATA_ENABLED = Symbol('SAMPLE_DATA_ENABLED');

/** The sample contacts' uuids: fixed, so that the API document's examples name contacts that exist. */
export const SAMPLE_CONTACT_UUIDS = {
  ada: '0190d6b4-5c1e-7000-8000-0000000000a1',
  grace: '0190d6b4-5c1e-7000-8000-0000000000a2',
  alan: '0190d6b4-5c1e-7000-8000-0000000000a3',
} as const;

/** A few contacts and interactions on first start, so the API answers something useful at once. */
@Injectable()
export class SampleData implements OnApplicationBootstrap {
  private readonly logger = new Logger('SampleData');

  constructor(
    @Inject(SAMPLE_DATA_ENABLED) private readonly enabled: boolean,
    private readonly contacts: DemoContacts,
    private readonly interactions: InteractionsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Claimed once: two hosts starting together on an empty database do not both add them.
    if (!this.enabled || !(await this.contacts.claimSampleData())) return;
    const ada = await this.contacts.create({ name: 'Ada Lovelace', email: 'ada@example.com', company: 'Analytical Engines', roleInCompany: 'CTO' }, { uuid: SAMPLE_CONTACT_UUIDS.ada });
    const grace = await this.contacts.create({ name: 'Grace Hopper', email: 'grace@example.com', company: 'US Navy', department: 'Research' }, { uuid: SAMPLE_CONTACT_UUIDS.grace });
    const alan = await this.contacts.create({ email: 'alan@example.com' }, { uuid: SAMPLE_CONTACT_UUIDS.alan });
    await this.interactions.createInteraction(
      { contactUuid: ada.uuid, interactionType: 'call', subject: 'Kick-off call', body: 'Agreed on a pilot.', occurredAt: '2026-01-12T09:30:00Z' },
      [{ rawName: 'Grace', contactUuid: grace.uuid }, { rawName: 'Their lawyer' }],
    );
    await this.interactions.createInteraction(
      { contactUuid: grace.uuid, interactionType: 'meeting', subject: 'Pilot review', occurredAt: '2026-02-03T14:00:00Z' },
      [{ rawName: 'Ada', contactUuid: ada.uuid }, { rawName: 'Alan', contactUuid: alan.uuid }],
    );
    await this.interactions.createInteraction({ contactUuid: alan.uuid, interactionType: 'email', subject: 'Intro', metadata: { channel: 'web form' } });
    this.logger.log('added sample contacts and interactions');
  }
}
