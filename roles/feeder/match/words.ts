// Word lists the matcher uses to decide whether a title needs movie context. Hand-made: everyday English
// words (the ones a tweet uses without meaning a movie), frequent first names and place names, and the words
// that signal "this is about a film".

/** Function words: a title made only of these ("Up", "Her", "In & Out") is never matched in lowercase text. */
export const STOPWORDS = new Set(
  `a an the and or but if of in on at to for from by with without about into onto over under up down out off
  as is am are was were be been being do does did done have has had having will would shall should can could
  may might must i me my mine myself you your yours yourself he him his himself she her hers herself it its
  itself we us our ours they them their theirs this that these those who whom whose what which when where why
  how all any both each few more most other some such no nor not only own same so than too very just now then
  there here again ever never always also yet still once one two three four five six seven eight nine ten
  let lets get got go goes went gone im ive id ill youre hes shes were theyre thats dont doesnt didnt cant
  wont isnt arent wasnt werent aint oh yes yeah ok okay hey hi lol omg`.split(/\s+/),
);

/** Everyday words, first names and place names that are also movie titles somewhere. */
export const COMMON_WORDS = new Set(
  `time year people way day man men woman women thing things life child children world school state family
  student group country problem hand part place case week company system program question work government
  number night point home water room mother area money story fact month lot right study book eye job word
  business issue side kind head house service friend father power hour game line end member law car city
  community name president team minute idea kid body information back parent face others level office door
  health person art war history party result change morning reason research girl guy moment air teacher force
  education foot boy age policy everything process music market sense nation plan college interest death
  experience effect use class control care field development role effort rate heart drug show leader light
  voice wife police mind price report decision son view relationship town road arm difference value building
  action model season society tax director position player record paper space ground form event official
  matter center couple site project activity star table need court oil situation cost industry figure street
  image phone data picture practice piece land product doctor wall patient worker news test movie north love
  support technology step baby computer type attention film tree source organization hair window evidence
  population truth song energy summer winter spring fall autumn brother sister daughter husband boss king
  queen prince princess lady gentleman mr mrs ms sir captain general chief officer agent soldier hero heroes
  legend monster monsters ghost ghosts angel angels devil demon saint god gods spirit soul souls dream dreams
  nightmare fear hope faith glory pride shame honor honour trust doubt envy greed lust rage panic terror
  horror danger risk trouble mystery secret secrets truth lies lie liar trick game games toy toys doll ball
  bat bats bird birds dog dogs cat cats fish horse horses cow pig wolf wolves bear bears lion lions tiger shark
  snake spider spiders bug bugs rat rats mouse mice bee bees duck dolphin whale monkey ape apes dinosaur
  dragon dragons vampire vampires zombie zombies alien aliens robot robots predator predators species
  planet planes plane train trains ship boat car cars truck bike bus taxi rocket jet road street highway bridge
  tower castle palace prison jail church temple island beach ocean oceans sea river lake mountain hill valley
  desert forest jungle garden park farm field city village town country world earth moon sun star stars sky
  cloud rain snow storm wind fire flame ice water stone rock rocks steel iron gold silver diamond diamonds
  glass wood paper metal blood bone bones skin heart brain eyes teeth hands feet head face mouth voice
  breath pulse shadow shadows light dark darkness night day dawn dusk sunrise sunset sunshine daylight
  midnight noon morning evening today tomorrow yesterday weekend holiday holidays christmas easter halloween
  valentine birthday wedding funeral party date dinner lunch breakfast coffee tea beer wine drink drinks
  food pizza burger chocolate candy sugar honey milk bread cake cookie cookies popcorn bananas apple orange
  red blue green black white yellow pink purple brown gray grey golden
  big small little large huge tiny long short tall high low deep wide old new young fresh hot cold warm cool
  fast slow quick easy hard soft heavy strong weak full empty open closed free safe dangerous wild crazy mad
  insane sane happy sad angry scared afraid brave proud foolish smart stupid dumb clever wise funny serious
  strange weird odd normal basic simple clean dirty pure perfect flawless beautiful pretty ugly gorgeous cute
  sexy hot lovely sweet bitter sour rich poor lucky unlucky lonely alone alive dead undead awake asleep
  sleepy tired bored busy lazy ready sorry sure true false real fake right wrong good bad better best worse
  worst great awesome amazing incredible epic legendary fantastic terrible horrible awful nice fine cool
  sick ill healthy fat thin skinny bald blind deaf silent quiet loud noisy calm restless ravenous hungry
  thirsty naked nude private public secret special regular ordinary average typical extreme final last
  first second third next previous early late recent modern ancient classic original famous infamous
  notorious unknown hidden lost found missing broken fixed twisted wicked evil holy sacred innocent guilty
  faithful unfaithful loyal beloved unforgettable unbreakable untouchable invincible valiant fearless
  frozen burning cursed blessed wanted taken saved trapped stuck screwed whipped derailed driven enchanted
  bewitched possessed haunted
  rush gravity jobs job epic frozen her planes plane speed crash click signs sign push pull shine bounce
  blow bait bound bang slam roar splash flash spark sparkler snatch scoop hook hit hitch heist hitman
  shooter sniper shot shoot kill killer killers murder crime criminal cop cops police detective spy spies
  thief thieves gangster gangsters bandit bandits pirate pirates outlaw outlaws soldier soldiers warrior
  gladiator assassin assassins hostage ransom payback paycheck jackpot gamble gambler casino lottery
  bet poker cards luck fortune fame celebrity star superstar idol icon diva legend loser winner champion
  rookie veteran boss chief master teacher student doctor nurse lawyer judge jury witness victim suspect
  traitor hero villain friend enemy rival partner stranger neighbor neighbour roommate boyfriend girlfriend
  babe baby honey darling sweetheart dude bro buddy pal mate kids kid teen teens twins brothers sisters
  family cousin uncle aunt grandma grandpa mom dad mommy daddy parents
  control power energy force impact collision contact distance gravity motion pressure balance focus
  identity instinct intuition memory memories mind conscience confidence fascination obsession
  addiction insomnia amnesia paranoia frenzy madness chaos order disorder panic tremors fever virus
  disease outbreak plague epidemic quarantine infection cure remedy medicine pill pills drugs dope
  crank pulse heartbeat breakdown burnout meltdown collapse disaster catastrophe apocalypse armageddon
  doomsday doom destiny fate prophecy premonition omen sign miracle magic spell curse wish wishes dream
  fantasy reality illusion mirage ghost spirit soul afterlife heaven hell paradise purgatory limbo
  eternity infinity forever always never now once again
  election campaign vote president senator mayor governor congress senate parliament minister politics
  war battle fight fighter fighters combat defiance rebellion revolution resistance invasion conquest
  empire kingdom republic nation army navy marines troops platoon squad unit mission operation assault
  attack defense defence siege surrender victory defeat retreat escape rescue recovery survival survivor
  survivors
  phone call text message email letter letters note notes post tweet tweets video photo camera radio
  television tv news paper magazine book books story stories novel poem poetry song songs album music
  band concert dance dancing singer show shows series episode season finale premiere
  work job jobs career office meeting deadline interview salary bonus rent bills taxes bank money cash
  credit debt loan budget price cost sale deal deals shopping store mall market shop
  school college university class classes exam exams test tests homework grade grades teacher lesson
  lessons graduation campus dorm library
  sport sports football soccer basketball baseball hockey tennis golf boxing wrestling racing race run
  running walk walking swim swimming gym workout training coach goal goals score team league cup final
  match player players fan fans stadium
  spring summer fall autumn winter january february march april may june july august september october
  november december monday tuesday wednesday thursday friday saturday sunday
  america american americans england english britain british london paris france french germany german
  italy italian spain spanish rome madrid berlin china chinese japan japanese india indian russia russian
  brazil mexico canada australia africa african europe asia egypt greece ireland scotland texas california
  florida hawaii alaska chicago boston philadelphia detroit miami vegas atlanta seattle denver dallas
  houston phoenix portland brooklyn manhattan hollywood jersey york washington vienna venice munich
  moscow tokyo sydney dublin sahara madagascar nebraska kansas georgia carolina virginia montana dakota
  arizona nevada oregon utah ohio michigan alabama tennessee kentucky louisiana mississippi missouri
  memphis nashville casablanca philadelphia waterloo troy sparta atlantis eden babylon jerusalem bethlehem
  john james robert michael william david richard joseph thomas charles chris christopher daniel matthew
  anthony mark donald steven steve paul andrew josh joshua kevin brian george edward ronald timothy tim
  jason jeff jeffrey ryan jacob gary nicholas nick eric stephen jonathan larry justin scott brandon frank
  benjamin ben gregory samuel sam raymond ray patrick alexander jack dennis jerry tyler aaron henry adam
  peter nathan zach zachary walter kyle harold carl arthur gerald roger keith jeremy terry lawrence sean
  christian albert joe ethan austin jesse willie billy bryan bruce jordan ralph roy noah dylan eugene
  wayne alan juan louis russell gabriel randy philip harry vincent bobby johnny logan oliver simon max
  charlie tom tommy danny jimmy mike alex luke leo luther oscar milo hugo felix igor ivan ali omar
  mary patricia jennifer linda elizabeth barbara susan jessica sarah karen nancy lisa betty margaret
  sandra ashley kimberly emily donna michelle dorothy carol amanda melissa deborah stephanie rebecca
  sharon laura cynthia kathleen amy shirley angela helen anna annie ann brenda pamela nicole emma
  samantha katherine kate christine debra rachel catherine carolyn janet ruth maria heather diane
  virginia julie joyce victoria olivia kelly christina lauren joan evelyn judith megan cheryl andrea
  hannah martha jacqueline frances gloria ann teresa kathryn sara janice jean alice madison doris abigail
  julia judy grace denise amber marilyn beverly danielle theresa sophia marie diana brittany natalie
  isabella charlotte rose alexis kayla bella chloe molly lucy lily sophie zoe ella ava mia grace holly
  juno selena sabrina carrie harper frida gracie lolita dolly annie jade ruby amelia stella luna penny
  elizabeth rebecca cleopatra venus eve adam
  yes no go made saw seen see good once enough may will might can way life love time war water bug they
  them us her him it up down in out over under`.split(/\s+/),
);

/** Titles that everyday speech uses all the time; always treated as needing context. */
export const ALWAYS_AMBIGUOUS = new Set(['her', 'rush', 'gravity', 'frozen', '42', 'epic', 'jobs', 'planes']);

/** Words that put a tweet in a movie context. */
export const MOVIE_WORDS = new Set(
  `movie movies film films flick flicks trailer trailers teaser cinema cinemas theater theaters theatre
  theatres imax 3d premiere premieres sequel sequels prequel remake reboot screening screenings boxoffice
  oscar oscars oscarnominated director directed cast actor actress actors soundtrack spoiler spoilers
  spoileralert dvd bluray netflix redbox hbo rewatch rewatching rewatched review reviews rottentomatoes imdb
  popcorn tickets matinee multiplex cgi animated animation pixar disney marvel dreamworks cameo credits
  postcredits comedy comedies thriller documentary biopic blockbuster superhero franchise starring scene
  scenes plot tcm amc hulu`.split(/\s+/),
);

/** Verbs that, right before a title, say the title is something you watch. */
export const WATCH_VERBS = new Set(
  `watch watched watching watches saw seen see seeing rewatch rewatched rewatching loved hated
  enjoyed recommend`.split(/\s+/),
);

/** More everyday vocabulary (verbs, nouns, adjectives a tweet uses without meaning a movie). */
const MORE_COMMON = `
ability able accept accident account across act acting active actually add address admit adult advice affair
afford after afternoon against agree ahead aim alarm album alive allow almost along already alright although
amount anger animal animals annual another answer anybody anyone anything anyway anywhere apart appear
apartment apply approach argue argument army around arrive arrival ask asleep attack attempt attend aunt
available avoid awake award aware away awesome awkward baby bachelor background backyard bag bake baker
band bank bar barely base basement basket bath bathroom battery beach beast beat beauty became because
become bed bedroom beer before began begin beginning begins behind believe bell belong below belt bench
bend beneath beside besides bet between beyond bible bicycle bid bill bills bird birth bit bite bitch black
blame blank blanket bleed blind block blonde blood blow blue board boat body boil bomb bond bone book boom
boot boots border bored boring born borrow bother bottle bottom bought bounce bowl box boxes brain branch
brand bread break breakfast breaking breath breathe breeze brick bride bridge brief bright bring broad
broke brother brought brush bubble buck budget build building built bullet bullets bunch burn burning burst
bury bus bush business busy butter button buy buying cabin cable cafe cage calendar call called calling calm
came camp campus cancel cancer candle cap capital card care career careful carry case cash cast casual catch
caught cause ceiling celebrate cell center central century certain chain chair challenge champion chance
change changed changing channel chapter character charge charity charm chart chase chat cheap cheat check
cheek cheer cheese chef chest chicken chill chin chip choice choose chose church circle citizen claim clap
class classic classroom clear clerk climb clock close closer closet cloth clothes club clue coach coast coat
code coin collect college color colour column combat come comes comfort comfortable coming command comment
common complete completely computer concern condition confused congrats connect consider contest continue
contract conversation cook cooking copy corner correct cost couch cough could count counter country county
couple courage course cousin cover crack craft crash crawl crazy cream create creature credit crew crime
critic cross crowd crown cry crying culture cup curious current curtain customer cut cute cycle daily damage
damn dance danger dare dark date daughter dead deal dear debate decide deep deer defeat degree delay deliver
demand deny depend depressed describe deserve design desk destroy detail develop device diary die died diet
different difficult dig dinner direct direction dirt disappear discover discuss dish distance divorce dock
does dollar dollars done double dozen draft drag drama draw drawing dream dress drew drink drive driver
driving drop drove drum drunk dry due dust duty each eager ear earn east eat eating edge effort egg eggs
either elevator else embarrassing emergency employee end ending enemy engine enjoy enter entire entry
episode equal error escape especially even event every everybody everyday everyone everywhere evil exact
exactly exam example excited exciting excuse exercise exit expect expensive explain explore express extra
fabulous face fail failed fair fairy faith fake fall falling false familiar fan fancy fans far farm fashion
fat fault favorite favourite feed feel feeling feelings feet fell fellow felt fence festival few fight
fighting file fill final finally find fine finger finish fire fired firm fit fix flag flat flight flip
floor flow flower flowers fly flying fold folks follow following fool foot forget forgive fork form forward
fought found fox frame freak free freedom freeze fresh friday friend friendly friends frog front fruit fuck
fun funny future gain gap garage gas gate gather gave gear gift girl girls give given glad glass glasses
global glove go goat goes going gone gonna good goodbye gorgeous gotta government grab grade grand grandma
grass grateful grave greatest grew grin grip grocery groceries gross ground grow grown grows growing guard
guess guest guide guilty gun guts guy guys habit half hall hand handle hang hanging happen happened happy
harbor hat hate hated hates hating head heading heal health hear heard hearing heart heat heaven heavy
height hell hello helmet help helping hero hey hidden hide highway hill hip hire hit hold holding hole
holiday home honest honestly honey hook hope horn horse hospital host hot hotel hour hours house housing
huge hug human humor hungry hunt hunter hunting hurry hurt husband ice idea ideas ignore ill image imagine
important impossible include indeed inside instead interest internet invite iron island item jacket jail
jam jealous jeans joke jokes journey joy judge juice jump jumping jungle junk justice keep keeping kept key
keys kick kill killed killing kind kinda kiss kitchen knee knew knife knock knocked know knowing known lab
lack ladder lady laid lake land lane language laptop last late lately later laugh laughing launch laundry
law lay lead leader leaf learn learning least leave leaving left leg legal legs lemon less lesson let letter
level library lie lies lift light like liked likes limit line link lip list listen listening live lived
lives living load local lock locked lonely long look looking looks loose lose losing loss lost lot lots loud
lovely lover loving low luck lucky lunch mad magic mail main major make makes making male mall manage manager
many map mark marriage married marry mask mass master mate math matter maybe meal mean meaning means meant
meat medal meet meeting member memory mention mess met middle might mile miles mind mine minute minutes
mirror miss missed missing mistake mix mom moment money month months mood more morning most mostly mother
mountain mouth move moved moving much mud mum music must nail naked name named narrow nasty native natural
nature near nearly neat neck need needed needs neighbor nerve nervous net network never news next nice night
nobody noise none noon normal nose note nothing notice number nurse nut obviously ocean odd offer office
often oil okay older open opening opinion orange order other outside oven own owner pack package page paid
pain paint pair pajamas pan panic pants paper parade parent parents park parking part party pass passed past
path patience pay payment peace peanut pen pencil people perfect perhaps period person pet phone photo pick
picked picture pictures pie piece pig pile pillow pilot pin pink pipe pipes pitch place plan plans plant
plastic plate play played playing plays please pleasure plenty pocket point poison pole pool poor pop porch
possible post pot potato pound pour power practice pray prayer prepare present president press pressure
pretend pretty prevent price pride print prize probably problem project promise proof proper protect proud
prove pull pulled punch purpose purse push put puzzle queen question quick quickly quiet quit quite quote
race radio rain raise ran rare rate rather reach read reading ready real realize really reason receive
recipe record red relax relationship remember remind remote repeat reply report rest restaurant result
return rice ride ridiculous right ring rise risk river road roast rock role roll roof room rope rough round
route row royal rude ruin rule rules run running rush sad safe said sail salad sale salt same sand sandwich
sat save saving say saying scare scared scary scene schedule science scream screen sea search seat second
secret see seem seen sell send sense sent series serious seriously serve set settle seven several sex shake
shall shape share sharp shave sheep sheet shelf shell shift shine shirt shock shoe shoes shop shopping
short shot should shoulder shout show shower shut shy sick side sigh sight sign silence silly simple since
sing single sink sir sit sitting size skate skin skip skirt sky sleep sleeping slept slice slide slightly
slip slow slowly small smart smell smile smoke smooth snack snap snow soap sock socks sofa soft soldier
solid solve somebody someday somehow someone something sometimes somewhere son song soon sore sorry sort
sound soup south space spare speak special speech spend spent spill spin spirit spit split spoon spot
spread spring square stairs stand standing star stare start started state station stay steal step stick
still stock stomach stone stop store storm story straight strange stranger street stress stretch strike
string strip strong stuck student study stuff style subject success suck sucks sudden suddenly suffer
suggest suit summer super supper supply suppose surprise surprised survive swear sweat sweater sweep
sweet swim swing switch system table tail take taken takes taking tale talk talking tall tank tape taste
teach team tear tears teeth telephone tell temperature tender tent terrible test thank thanks thick thief
thin thing things think thinking thirsty though thought thousand threat threw throat through throw thumb
ticket tie tight till tip tired title toast today toe together toilet told tomorrow tone tongue tonight
took tool tooth top total touch tough tour toward towel town toy track trade traffic trail train trash
travel treat tree trial trick tried trip trouble truck true truly trust truth try trying tube tune turn
turned twice twist type ugly umbrella uncle under understand unless until upset upstairs use used useful
usual usually vacation various vehicle very victim view visit voice vote wait waiting wake walk walked
walking wall wallet want wanted wants warm warn wash waste watch water wave waves wear weather wedding
week weekend weird welcome well west wet whatever wheel whenever whether while whisper whistle white
whole wide wife wild will win wind window wine wing wings winner winter wipe wire wise wish witch within
woke wonder wonderful wood word words wore work worked working works world worried worry worse worth
would wound wow wrap write writing wrong yard yeah yell yellow yesterday young yours youth zero zone
grown ups remember trip heat traffic twilight knowing jaws rocky valentines valentine crew fan box ring
proposal notebook others game one kid man island town rain black white road step grease ghost bug bugs
alive amen babe bogus bound bananas boomerang brainstorm casino cure caravans copycat diner decoys eraser
fabled faithful fled fortress frenzy glory happiness hook hybrid jack jade legend maniac meteor outbreak
phenomenon platoon prophecy ransom reds roar restoration subway shine slacker sleeper sleepers solitude
species sphinx spellbound splash stripes striptease swingers tango thinner taps trapeze tremors twins
twister tycoon unforgettable warlock witness exodus abandon adoration adaptation anaconda atonement avatar
bait basic bats beautiful beloved blade blindness bandits bolt bones heartbreakers breakdown celebrity
cellular clean click closer collateral confidence contact crank crossover crossroads cursed daredevil
defiance dragonfly dick doomsday dinosaur doubt downfall derailed driven duets duplex election empire
enchanted entrapment enough envy eulogy eureka evolution extract fame fascination feast firestorm flawless
frailty frequency serenity fur gladiator glitter goal gossip groove hairspray heist hitch hitman milk holes
hoot hostage identity impostor infamous insomnia instinct jackpot jumper legion equilibrium limbo loser
made may monster moon notorious nomad november oceans once payback paycheck screwed possession paparazzi
predators premonition primer psycho pulse quarantine rebound redacted rent rendition restless ravenous
saved saw scoop shade shooter showtime signs slackers sunshine snatch sphere spider steel stealth
timeline thirteen titanic traitor trapped turbulence twisted undead underworld unfaithful valiant venom
venus virus vampires volcano waitress wonderland whipped zoom hulk shaft spawn rambo wanted dinner crash
speed big cars signs jobs planes epic rush frozen gravity her
oliver wilson simon harper sheena nikita carrie bobby alfie ali alexander amelia gracie madison luther
gerry willard sonny cyrus emma selena sabrina rebecca molly gloria chloe bella elizabeth juno frida igor
jack ray hamlet hannibal tarzan batman superman
brazil hawaii philadelphia london munich sahara madagascar casablanca waterloo gettysburg troy niagara
congo jerusalem fargo nebraska chicago australia`;
for (const w of MORE_COMMON.split(/\s+/)) if (w) COMMON_WORDS.add(w);
