using System.Globalization;

/// <summary>The benchmarks' <c>--name value</c> options, shared by each bench program (linked into each project).</summary>
internal sealed class CommandLine(string[] args)
{
    public string Text(string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    public int Number(string name, int fallback) =>
        int.Parse(Text(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
}
