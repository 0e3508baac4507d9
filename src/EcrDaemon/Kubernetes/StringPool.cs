namespace EcrDaemon.Kubernetes;

/// <summary>
/// Shares equal strings among the cached views: every object read from the API brings its own
/// copy of strings that recur across thousands of namespaces (ServiceAccount names such as
/// <c>default</c>, pull-secret names, the secret type, data hash and expiry, which every managed
/// secret has alike). Lossy and bounded: a fixed table where a string takes the slot of its hash,
/// displacing what was there, so the pool never grows and a rare string costs nothing. Threads
/// may race on a slot; the worst outcome is a missed share.
/// </summary>
internal sealed class StringPool(int slots = 4096)
{
    private readonly string?[] _slots = new string?[slots];

    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(value))]
    public string? Share(string? value)
    {
        if (value is null)
        {
            return null;
        }

        ref var slot = ref _slots[(uint)value.GetHashCode(StringComparison.Ordinal) % (uint)_slots.Length];
        var held = Volatile.Read(ref slot);
        if (held is not null && string.Equals(held, value, StringComparison.Ordinal))
        {
            return held;
        }

        Volatile.Write(ref slot, value);
        return value;
    }
}
