namespace EcrDaemon.Diagnostics;

/// <summary>
/// The event id of every log message in <see cref="Log"/>, one constant per message, named after it.
/// The ids are stable: operators' alerts and the tests select log lines by them, so a message
/// keeps its id for good and a new message takes a new one.
/// </summary>
internal static class LogEvents
{
    // 1xxx: ECR tokens.
    public const int CallingEcr = 1001;
    public const int GotToken = 1002;
    public const int TokenAlreadyExpired = 1003;
    public const int RetryingEcr = 1004;
    public const int TokenFailed = 1005;
    public const int ResolvedCredentials = 1006;
    public const int TokensPublished = 1010;
    public const int WaitingForTokens = 1011;
    public const int NextRefresh = 1012;
    public const int RefreshRoundFailed = 1020;
    public const int SurprisingExpiry = 1021;
    public const int ClockSkewed = 1022;

    // 2xxx: Kubernetes watches.
    public const int Listed = 2001;
    public const int WatchExpired = 2002;
    public const int WatchFailed = 2003;
    public const int WatchRestarted = 2004;
    public const int WatchStalled = 2005;
    public const int InformersSynced = 2006;
    public const int EventFailed = 2007;
    public const int Resynced = 2008;
    public const int EventDropped = 2009;

    // 3xxx: reconcile.
    public const int SecretCreated = 3001;
    public const int SecretUpdated = 3002;
    public const int SecretAdopted = 3003;
    public const int SecretDeleted = 3004;
    public const int UnmanagedSecret = 3005;
    public const int ServiceAccountPatched = 3006;
    public const int ServiceAccountConflict = 3007;
    public const int ReconcileRetrying = 3008;
    public const int NamespaceGoingAway = 3009;

    // 3020-3039: issue 14 (cache order, immutable secrets, per-namespace Event budget).
    public const int SecretReplaced = 3020;
    public const int SecretVanished = 3021;
    public const int EventDroppedForNamespace = 3022;

    // 4xxx: leader election.
    public const int BecameLeader = 4001;
    public const int LostLeadership = 4002;
    public const int NewLeader = 4003;
    public const int LeaderElectionError = 4004;
    public const int LeaseReleased = 4005;

    // 5100-5119: informer backoff (issue 14).
    public const int WatchExpiredAgain = 5100;

    // 2020-2039: configuration and commands.
    public const int StoppedDuringStart = 2020;

    // 5300-5319: review of issue 14.
    public const int TokenFailureLeftToLeader = 5300;

    // 9xxx: the process.
    public const int ServiceFailed = 9001;
    public const int HeapTrimmed = 9002;
}
