import type { User, UserRepository } from '../accounts/model.js';
import { publicProfile, type UserService } from '../accounts/users.js';
import { normaliseUsername } from '../accounts/rules.js';
import { Forbidden, NotFound } from '../errors.js';
import { outboxEvent, type DomainEventPublisher } from '../events.js';
import type { TriggerService } from '../triggers/service.js';

/** The public face of a user, with the names of the triggers they made that the viewer may see. */
export interface Profile {
  id: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  isPublic: boolean;
  xp: number;
  level: number;
  createdAt: number;
  triggers: string[];
}

export interface ProfileChanges {
  displayName?: string;
  avatarUrl?: string | null;
  isPublic?: boolean;
}

/** XP for text generated for a user: one point per this many words, rounded up. */
const WORDS_PER_POINT = 10;
/** XP for each trigger a reply was generated with. */
const POINTS_PER_TRIGGER_USE = 2;

/**
 * Profiles, XP and levels. A private profile is visible to its owner and admins only; to anyone
 * else it does not exist.
 */
export class ProfileService {
  constructor(
    private readonly users: UserRepository,
    private readonly accounts: UserService,
    private readonly triggers: TriggerService,
    private readonly events: DomainEventPublisher,
    /** The XP each level starts at, lowest first (level 1 at the first entry). */
    private readonly levelThresholds: readonly number[],
  ) {}

  async get(viewer: User | null, username: string): Promise<Profile> {
    const user = await this.visible(viewer, username);
    const own = viewer !== null && (viewer.id === user.id || viewer.role === 'admin');
    return this.profileOf(user, await this.triggers.namesBy(user.id, { includePrivate: own }));
  }

  /** Changed by its owner, or by an admin. */
  async update(viewer: User, username: string, changes: ProfileChanges): Promise<Profile> {
    const user = await this.visible(viewer, username);
    if (viewer.id !== user.id && viewer.role !== 'admin') throw new Forbidden('Only its owner may change a profile');
    const updated = await this.accounts.updateProfile(user, changes, '');
    this.events.publish('profile.updated', { profile: publicProfile(updated) });
    return this.profileOf(updated, await this.triggers.namesBy(user.id, { includePrivate: true }));
  }

  /** The level a total of XP reaches. */
  levelOf(xp: number): number {
    let level = 0;
    while (level < this.levelThresholds.length && xp >= this.levelThresholds[level]!) level++;
    return Math.max(level, 1);
  }

  /** XP for a reply generated for the user: by the words it holds, and the triggers it was made with. */
  async rewardReply(userId: string, reply: string, triggersUsed: number): Promise<void> {
    const words = reply.split(/\s+/).filter(Boolean).length;
    const points = Math.ceil(words / WORDS_PER_POINT) + POINTS_PER_TRIGGER_USE * triggersUsed;
    if (points > 0) await this.addXp(userId, points);
  }

  async addXp(userId: string, points: number): Promise<void> {
    const change = await this.users.addXp(
      userId,
      points,
      (xp) => this.levelOf(xp),
      (before, after) =>
        // Webhooks hear of levels, not of every point.
        after.level > before.level ? [outboxEvent('profile.update', [userId], { profile: publicProfile(after) })] : [],
    );
    if (!change) return;
    const { before, after } = change;
    this.events.publish('profile.updated', { profile: publicProfile(after) });
    if (after.level > before.level) {
      this.events.publish('profile.level_up', {
        userId,
        level: after.level,
        previousLevel: before.level,
        xp: after.xp,
      });
    }
  }

  private async visible(viewer: User | null, username: string): Promise<User> {
    const user = await this.users.findByUsername(normaliseUsername(username));
    const seen = user && (user.isPublic || viewer?.id === user.id || viewer?.role === 'admin');
    if (!user || !seen || user.disabled) throw new NotFound('Profile');
    return user;
  }

  private profileOf(user: User, triggers: string[]): Profile {
    const { id, username, displayName, avatarUrl, isPublic, xp, level, createdAt } = user;
    return { id, username, displayName, avatarUrl, isPublic, xp, level, createdAt, triggers };
  }
}
