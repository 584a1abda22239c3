// Ranking over N available teachers: p50/p99/max of one Rank call, the matching step that runs
// on every call request. Usage: dotnet run -c Release --project bench/Callern.Bench.Ranking [teachers] [iterations]
using System.Diagnostics;
using Callern.Platform.Matching;
using Callern.Platform.People;

var teachers = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 10_000;
var iterations = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2_000;
var random = new Random(42);
string[] accents = ["en-GB", "en-US", "en-AU", "en-IE", "en-IN", "es-ES", "es-MX", "fr-FR"];
string[] zones = ["Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Europe/Madrid", "America/Mexico_City", "Europe/Paris", "Asia/Tokyo"];
string[] specializations = ["business", "conversational", "exam-preparation", "kids", "academic", "travel"];
string[] levels = ["A1", "A2", "B1", "B2", "C1", "C2"];
var now = DateTimeOffset.UtcNow;
var candidates = Enumerable.Range(0, teachers).Select(i =>
{
    var ratings = random.Next(0, 200);
    return new CandidateTeacher(
        $"teacher-{i}",
        [new TeacherLanguage(accents[random.Next(accents.Length)], levels.Skip(random.Next(3)).Take(3 + random.Next(3)).ToList())],
        [specializations[random.Next(specializations.Length)], specializations[random.Next(specializations.Length)]],
        zones[random.Next(zones.Length)],
        Available: true, Blocked: false,
        ratings, ratings * (3.5 + random.NextDouble() * 1.5), random.Next(4) == 0 ? random.Next(1, 6) : null,
        random.Next(0, 100), random.Next(0, 80), now.AddMinutes(-random.Next(0, 240)));
}).ToList();
var request = new MatchRequest("en", "B1", "en-GB", "business", ["teacher-17"], "Europe/Berlin");
var weights = new RankingWeights();

for (var i = 0; i < 200; i++)
{
    Ranking.Rank(request, candidates, weights, now, limit: 20);
}
var samples = new double[iterations];
var matched = Ranking.Rank(request, candidates, weights, now).Count;
for (var i = 0; i < iterations; i++)
{
    var started = Stopwatch.GetTimestamp();
    Ranking.Rank(request, candidates, weights, now, limit: 20);
    samples[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
}
Array.Sort(samples);
double Percentile(double p) => samples[Math.Min(samples.Length - 1, (int)Math.Ceiling(p * samples.Length) - 1)];
Console.WriteLine($"ranking {teachers} available teachers ({matched} pass the hard filters; top 20 returned), {iterations} runs");
Console.WriteLine($"p50 {Percentile(0.50):F2} ms  p99 {Percentile(0.99):F2} ms  max {samples[^1]:F2} ms");
